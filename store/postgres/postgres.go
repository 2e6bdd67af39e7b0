// Package postgres is the Store for PostgreSQL, shared by several invitd nodes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/invitd/invitd/invite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a pgx pool. Write transactions run at READ COMMITTED and lock the
// rows they read with forUpdate; a count in a Write holds an advisory lock
// until commit, so a limit checked by counting holds; an invitation is never
// made pending for someone already a member (ErrDuplicateMember), which a
// check before the write cannot ensure for a row not yet there. Read
// transactions are read-only snapshots (REPEATABLE READ). Nothing is kept in
// memory between transactions, so any number of Stores in any number of
// processes can share one database.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to url (postgres://...) and migrates the database.
// Several processes may Open one database at the same moment: migrations
// run under a PostgreSQL advisory lock, so they run once and the others wait.
func Open(ctx context.Context, url string) (invite.Store, error) {
	return open(ctx, url)
}

func open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 2*runtime.NumCPU()))
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrate brings the schema up to date through database/sql, which goose
// needs, holding a session advisory lock while it does.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cc.Copy())
	defer db.Close()
	db.SetMaxOpenConns(2)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600), lock.WithUnlockTimeout(1, 60))
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

const (
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	beginWrite = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"
)

// Read runs fn in a read-only transaction that sees one snapshot.
func (s *Store) Read(ctx context.Context, fn func(invite.Tx) error) error {
	return s.run(ctx, beginRead, false, fn)
}

// Write runs fn in a READ COMMITTED transaction.
func (s *Store) Write(ctx context.Context, fn func(invite.Tx) error) error {
	return s.run(ctx, beginWrite, true, fn)
}

// maxAttempts bounds how often a transaction the server aborted for a
// deadlock or a serialization failure is run again.
const maxAttempts = 3

func (s *Store) run(ctx context.Context, begin string, write bool, fn func(invite.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.runOnce(ctx, begin, write, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// errCommitRollback: the server rolled back at COMMIT a transaction a
// statement of which had failed.
var errCommitRollback = errors.New("postgres: commit unexpectedly resulted in rollback")

func (s *Store) runOnce(ctx context.Context, begin string, write bool, fn func(invite.Tx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction by an error is closed, not
	// reused, when it is released.
	defer conn.Release()
	t := &tx{conn: conn.Conn(), begin: begin, write: write}
	if err := fn(t); err != nil {
		if t.begin == "" {
			_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}
	if t.begin != "" && len(t.ahead) == 0 {
		return nil // fn ran no statement
	}
	tag, err := t.rawExec(ctx, "COMMIT")
	if err != nil {
		return mapErr(err)
	}
	if tag.String() == "ROLLBACK" {
		return errCommitRollback
	}
	return nil
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// mapErr turns unique violations into the core's store errors, by the name
// of the constraint violated.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != "23505" {
		return err
	}
	switch pe.ConstraintName {
	case "invitations_one_pending":
		return invite.ErrDuplicatePending
	case "members_org_email":
		return invite.ErrDuplicateMember
	case "idempotency_keys_scope_key":
		return invite.ErrDuplicateIdempotencyKey
	}
	return err
}
