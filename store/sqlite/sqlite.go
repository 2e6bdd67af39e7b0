// Package sqlite is the embedded Store: one file, pure Go.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/invitd/invitd/invite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is SQLite behind one writer connection and a pool of read-only ones.
// Every write transaction begins IMMEDIATE on the single writer, so a read
// followed by a write inside it can never be overtaken.
//
// Writes that arrive while another is committing are committed together
// (group commit): one transaction, in which a write that fails is undone
// alone (see runGroup). Each caller is answered only after the commit that
// holds its write. A connection of its own checkpoints the WAL (see
// checkpointLoop).
type Store struct {
	writer, reader *sql.DB
	checkpointer   *sql.DB
	wstmts, rstmts *stmtCache
	writes         chan *writeReq
	committed      chan struct{} // a commit since the last checkpoint; buffered 1
	stop           chan struct{}
	stopped        chan struct{} // closed when both loops have returned
	grouped        atomic.Int64  // writes committed in a shared transaction
	cache          *writerCache  // used on the writer's goroutine only
	closeOnce      sync.Once
}

type writeReq struct {
	ctx        context.Context
	fn         func(invite.Tx) error
	done       chan error
	background bool // invite.IsBackground(ctx), asked once by the caller
}

// maxGroup bounds how many writes share one commit.
const maxGroup = 64

// While requests are writing (one was taken within busyWindow), a batch
// of background writes alone (invite.Background) waits up to holdBackground
// for a request's write to join it: alone, each costs a whole commit, which
// the requests then queue behind. With no request writing, nothing waits.
// (Variables, for tests.)
var (
	holdBackground = time.Millisecond
	busyWindow     = 5 * time.Millisecond
)

// The checkpointer copies the WAL into the database at most once per
// checkpointPause, so that a page changed by many commits in between is
// copied once. The writer checkpoints itself only if the WAL reaches
// walBackstop pages, which it does only if checkpoints fail or fall behind.
// (Variables, for tests.)
var (
	checkpointPause = 20 * time.Millisecond
	walBackstop     = 10000
)

// stmtCache holds statements prepared on one pool, by query text. A
// statement is prepared at pool level only between transactions: inside one,
// the single writer connection is taken, and preparing would wait for it.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// maxCachedStmts bounds the cache; list queries vary only by which filters are set.
const maxCachedStmts = 512

func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[q]
}

func (c *stmtCache) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		if c.lookup(q) != nil {
			continue
		}
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue // it is run unprepared next time, and fails there if it must
		}
		c.mu.Lock()
		if _, dup := c.m[q]; dup || len(c.m) >= maxCachedStmts {
			s.Close()
		} else {
			c.m[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
}

// Open opens (creating if needed) the database at path and migrates it.
// synchronous is NORMAL (the default: a commit survives a process crash; the
// last commits may be lost on power failure) or FULL (each commit is fsynced).
// The database and the files SQLite keeps beside it are its owner's alone
// (see ownerOnly).
func Open(ctx context.Context, path, synchronous string) (*Store, error) {
	switch s := strings.ToUpper(synchronous); s {
	case "":
		synchronous = "NORMAL"
	case "NORMAL", "FULL":
		synchronous = s
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be NORMAL or FULL, not %q", synchronous)
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	// Statement and savepoint journals live in memory (temp_store): on disk
	// they cost a write call per page changed, in the single writer.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + synchronous + ")&_pragma=temp_store(MEMORY)"
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	writer, err := sql.Open("sqlite", base+"&_txlock=immediate"+
		"&_pragma=wal_autocheckpoint("+strconv.Itoa(walBackstop)+")")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, err
	}
	n := max(4, runtime.NumCPU())
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	checkpointer, err := sql.Open("sqlite", base)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	checkpointer.SetMaxOpenConns(1)
	checkpointer.SetConnMaxIdleTime(0)
	s := &Store{writer: writer, reader: reader, checkpointer: checkpointer,
		wstmts:    &stmtCache{db: writer, m: map[string]*sql.Stmt{}},
		rstmts:    &stmtCache{db: reader, m: map[string]*sql.Stmt{}},
		writes:    make(chan *writeReq),
		committed: make(chan struct{}, 1),
		stop:      make(chan struct{}),
		stopped:   make(chan struct{}),
		cache:     newWriterCache(),
	}
	var loops sync.WaitGroup
	loops.Go(s.writeLoop)
	loops.Go(s.checkpointLoop)
	go func() {
		loops.Wait()
		close(s.stopped)
	}()
	return s, nil
}

// ownerOnly makes the database at path readable by its owner alone: it
// holds what opens invitations and identifies keys. A new database is
// created 0600, whatever the umask; SQLite's unix VFS gives the WAL, shm and
// rollback journal it creates the database file's mode, so they follow. An
// existing database or leftover WAL, shm or journal (from an earlier version,
// a copy, another tool) that others may read is narrowed to its owner.
//
// A symlink to a regular file is followed, as SQLite follows it: SQLite then
// keeps its WAL, shm and journal beside the target, so those are the
// leftovers looked at. A symlink to nothing is refused: SQLite would create
// its target with its default mode, readable by others. Anything at path
// that is not a regular file is refused with a clearer error than SQLite's.
func ownerOnly(path string) error {
	// O_EXCL never follows a symlink: if path is one, this fails with
	// ErrExist and the link is looked at below.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		// The umask may have taken the owner's write bit too; SQLite needs it.
		err = f.Chmod(0o600)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sqlite: create %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	default:
		if err := narrow(path, true); err != nil {
			return err
		}
	}
	// SQLite names the WAL, shm and journal after the path with every
	// symlink resolved.
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, p := range []string{resolved + "-wal", resolved + "-shm", resolved + "-journal"} {
		// SQLite opens these without following a symlink; one there is
		// refused here, before it is asked to.
		if err := narrow(p, false); err != nil {
			return err
		}
	}
	return nil
}

// narrow takes the group and other bits from the regular file at p, if it
// exists (a missing p is not an error unless it is a symlink to nothing).
// The file is checked and changed through one descriptor, so a file swapped
// in at p between the two is never the one changed. With follow, a symlink
// at p to a regular file is followed.
func narrow(p string, follow bool) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !follow {
			return fmt.Errorf("sqlite: %s is a symlink; SQLite would not open it", p)
		}
		fi, err = os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: %s is a symlink to nothing; SQLite would create its target readable by others: create the database where it points, or remove the link", p)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: %s is not a regular file (%s)", p, fi.Mode().Type())
	}
	if runtime.GOOS == "windows" {
		return nil // no group or other bits to take away
	}
	// Read-only is enough for fchmod; O_NONBLOCK keeps a FIFO swapped in at p
	// from hanging the open.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer f.Close()
	ffi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if !os.SameFile(fi, ffi) || !ffi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: %s changed while its mode was checked", p)
	}
	if mode := ffi.Mode().Perm(); mode&0o077 != 0 {
		if err := f.Chmod(mode &^ 0o077); err != nil {
			return fmt.Errorf("sqlite: %s may be read by others (mode %04o) and cannot be narrowed: %w", p, mode, err)
		}
		slog.Warn("sqlite: file was readable by others; narrowed to its owner",
			"path", p, "was", fmt.Sprintf("%04o", mode), "now", fmt.Sprintf("%04o", mode&^0o077))
	}
	return nil
}

// ParseURL splits a sqlite:PATH[?synchronous=FULL] database URL.
func ParseURL(u string) (path, synchronous string, err error) {
	rest, ok := strings.CutPrefix(u, "sqlite:")
	if !ok {
		return "", "", fmt.Errorf("sqlite: %q is not a sqlite: URL", u)
	}
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: bad options in %q: %w", u, err)
	}
	if path == "" {
		return "", "", fmt.Errorf("sqlite: %q names no file", u)
	}
	for k := range q {
		if k != "synchronous" {
			return "", "", fmt.Errorf("sqlite: unknown option %q in %q; the only option is synchronous", k, u)
		}
	}
	return path, q.Get("synchronous"), nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Read runs fn in a read-only snapshot.
func (s *Store) Read(ctx context.Context, fn func(invite.Tx) error) error {
	return run(ctx, s.rstmts, nil, fn)
}

// Write runs fn in an IMMEDIATE transaction on the single writer, possibly
// shared with other writes (see Store).
func (s *Store) Write(ctx context.Context, fn func(invite.Tx) error) error {
	// fn runs on the writer's goroutine: a panic in it undoes the write and
	// is raised again here, in the caller's.
	var panicked any
	safe := func(t invite.Tx) (err error) {
		panicked = nil // fn may run again (see runGroup); its last run counts
		defer func() {
			if p := recover(); p != nil {
				panicked, err = p, fmt.Errorf("sqlite: panic in a write: %v", p)
			}
		}()
		return fn(t)
	}
	r := &writeReq{ctx: ctx, fn: safe, done: make(chan error, 1), background: invite.IsBackground(ctx)}
	select {
	case s.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errors.New("sqlite: store is closed")
	}
	err := <-r.done
	if panicked != nil {
		panic(panicked)
	}
	return err
}

func (s *Store) writeLoop() {
	var lastRequest time.Time // when a request's write was last taken
	for {
		var batch []*writeReq
		select {
		case r := <-s.writes:
			batch = append(batch, r)
		case <-s.stop:
			return
		}
	more:
		for len(batch) < maxGroup {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		bg := background(batch)
		if bg && time.Since(lastRequest) < busyWindow {
			batch, bg = s.awaitRequest(batch)
		}
		if !bg {
			lastRequest = time.Now()
		}
		if len(batch) == 1 {
			batch[0].done <- run(batch[0].ctx, s.wstmts, s.cache, batch[0].fn)
		} else if err := s.runGroup(batch); err != nil {
			// The shared transaction failed as a whole: run each on its own.
			for _, r := range batch {
				r.done <- run(r.ctx, s.wstmts, s.cache, r.fn)
			}
		}
		select {
		case s.committed <- struct{}{}:
		default: // the checkpointer has been told already
		}
	}
}

// checkpointLoop copies what has been committed from the WAL into the
// database, on a connection of its own. Left to the writer (SQLite's
// default, every 1,000 pages), a checkpoint reads back every page written
// since the last one, writes it and syncs both files, while every write
// queued behind it waits. A checkpoint never blocks a commit, and every
// commit is already durable in the WAL: this changes only when the pages
// reach the database file.
func (s *Store) checkpointLoop() {
	failing := false
	for {
		select {
		case <-s.committed:
		case <-s.stop:
			return
		}
		_, err := s.checkpointer.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		switch {
		case err != nil && !failing:
			slog.Warn("sqlite: checkpoint failed; the writer will checkpoint when the WAL is large", "err", err)
		case err == nil && failing:
			slog.Info("sqlite: checkpoints work again")
		}
		failing = err != nil
		select {
		case <-time.After(checkpointPause):
		case <-s.stop:
			return
		}
	}
}

// background tells whether every write in batch is background work.
func background(batch []*writeReq) bool {
	for _, r := range batch {
		if !r.background {
			return false
		}
	}
	return true
}

// awaitRequest adds writes to a batch of background ones until one is a
// request's, the group is full, or holdBackground has passed; it tells
// whether the batch is still background work only.
func (s *Store) awaitRequest(batch []*writeReq) ([]*writeReq, bool) {
	t := time.NewTimer(holdBackground)
	defer t.Stop()
	for len(batch) < maxGroup {
		select {
		case r := <-s.writes:
			batch = append(batch, r)
			if !r.background {
				return batch, false
			}
		case <-t.C:
			return batch, true
		}
	}
	return batch, true
}

// runGroup commits batch in one transaction and answers each request; if the
// transaction itself fails, it answers none and returns the error.
//
// Writes rarely fail, so the group first runs without savepoints: each one
// costs SQLite a copy of every page its write touches. If a write fails,
// that attempt is rolled back and the group runs again with a savepoint per
// write, so that the failed one is undone alone.
func (s *Store) runGroup(batch []*writeReq) error {
	errs, err := s.tryGroup(batch, false)
	if errors.Is(err, errWriteFailed) {
		errs, err = s.tryGroup(batch, true)
	}
	if err != nil {
		return err
	}
	s.grouped.Add(int64(len(batch)))
	for i, r := range batch {
		r.done <- errs[i]
	}
	return nil
}

// errWriteFailed stops a group run without savepoints at its first failed write.
var errWriteFailed = errors.New("sqlite: a write in the group failed")

// tryGroup runs batch in one transaction and commits it, giving each write's
// own error. Without savepoints, a failed write rolls back the whole
// transaction and tryGroup returns errWriteFailed.
func (s *Store) tryGroup(batch []*writeReq, savepoints bool) ([]error, error) {
	ctx := context.Background()
	sqltx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	// A cancelled context would interrupt SQLite mid-transaction and undo
	// the others' writes too; each write here is short, so none is cancelled.
	s.cache.begin()
	t := &tx{tx: sqltx, stmts: s.wstmts, detached: true, cache: s.cache}
	defer func() {
		if len(t.misses) > 0 {
			s.wstmts.prepare(ctx, t.misses)
		}
	}()
	errs := make([]error, len(batch))
	for i, r := range batch {
		if errs[i] = r.ctx.Err(); errs[i] != nil {
			continue
		}
		if !savepoints {
			if errs[i] = r.fn(t); errs[i] != nil {
				s.rollback(sqltx)
				return nil, errWriteFailed
			}
			continue
		}
		if _, err := t.exec(ctx, "SAVEPOINT w"); err != nil {
			s.rollback(sqltx)
			return nil, err
		}
		if errs[i] = r.fn(t); errs[i] != nil {
			s.cache.forget()
			if _, err := t.exec(ctx, "ROLLBACK TO w"); err != nil {
				s.rollback(sqltx)
				return nil, err
			}
		}
		if _, err := t.exec(ctx, "RELEASE w"); err != nil {
			s.rollback(sqltx)
			return nil, err
		}
	}
	if err := mapErr(sqltx.Commit()); err != nil {
		s.cache.forget()
		return nil, err
	}
	return errs, nil
}

// rollback undoes a writer transaction, and so whatever it cached.
func (s *Store) rollback(sqltx *sql.Tx) {
	sqltx.Rollback()
	s.cache.forget()
}

// run runs fn in a transaction of its own; cache is the writer's, nil for
// a read.
func run(ctx context.Context, stmts *stmtCache, cache *writerCache, fn func(invite.Tx) error) error {
	sqltx, err := stmts.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqltx.Rollback() // a no-op after Commit; frees the connection if fn panics
	cache.begin()
	t := &tx{tx: sqltx, stmts: stmts, cache: cache}
	err = fn(t)
	if err != nil {
		sqltx.Rollback()
	} else {
		err = mapErr(sqltx.Commit())
	}
	if err != nil {
		cache.forget()
	}
	if len(t.misses) > 0 {
		stmts.prepare(context.WithoutCancel(ctx), t.misses)
	}
	return err
}

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

// Close stops the writer and the checkpointer and closes their connections
// and the readers'.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.stopped
	s.rstmts.close()
	s.wstmts.close()
	s.checkpointer.Close()
	rerr := s.reader.Close()
	if err := s.writer.Close(); err != nil {
		return err
	}
	return rerr
}

// mapErr turns constraint violations into the core's store errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !asSQLiteError(err, &se) {
		return err
	}
	if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		msg := se.Error()
		switch {
		case strings.Contains(msg, "index 'invitations_email'"): // an index on an expression is named so
			return invite.ErrDuplicatePending
		case strings.Contains(msg, "members.org_id, members.email"):
			return invite.ErrDuplicateMember
		case strings.Contains(msg, "idempotency_keys."):
			return invite.ErrDuplicateIdempotencyKey
		}
	}
	return err
}
