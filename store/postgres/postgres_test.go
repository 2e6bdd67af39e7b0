package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/store/storetest"

	"github.com/invitd/invitd/internal/testnode"
)

// The tests need a PostgreSQL server: INVITD_TEST_POSTGRES_URL names a
// database on it the tests may connect to as a user allowed to create
// databases. Each test gets databases of its own, dropped when it ends.
const urlEnv = "INVITD_TEST_POSTGRES_URL"

var (
	admin     *pgxpool.Pool // connected to the base database, for CREATE and DROP DATABASE
	adminErr  error
	adminOnce sync.Once

	template     string // a migrated database each store test copies
	templateErr  error
	templateOnce sync.Once

	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := testnode.Main(m)
	if admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if template != "" {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(template)+" WITH (FORCE)")
		}
		cancel()
		admin.Close()
	}
	os.Exit(code)
}

// baseURL returns the configured server's URL, or ends the test: it fails
// under CI, where the server must be there, and is skipped elsewhere.
func baseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is needed under CI: set it to a PostgreSQL database URL (bash .ci/postgres.sh prints one)", urlEnv)
	}
	t.Skipf("PostgreSQL tests are off: set %s=postgres://postgres@127.0.0.1:5432/invitd_test?sslmode=disable "+
		"(or run: export %s=$(bash .ci/postgres.sh)) to run them", urlEnv, urlEnv)
	return ""
}

// withDatabase is u naming database name instead.
func withDatabase(t testing.TB, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", urlEnv, err)
	}
	p.Path = "/" + name
	p.RawPath = ""
	return p.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func adminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	base := baseURL(t)
	adminOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, adminErr = connect(ctx, base)
		var pe *pgconn.PgError
		if errors.As(adminErr, &pe) && pe.Code == "3D000" {
			// The named database does not exist; any database will do.
			admin, adminErr = connect(ctx, withDatabase(t, base, "postgres"))
		}
		if adminErr == nil {
			dropAbandoned(ctx, admin)
		}
	})
	if adminErr != nil {
		t.Fatalf("connecting to %s: %v", urlEnv, adminErr)
	}
	return admin
}

// hostTag tells this machine's test databases from those of other machines
// that may share the server.
var hostTag = func() string {
	h := fnv.New32a()
	name, _ := os.Hostname()
	h.Write([]byte(name))
	return fmt.Sprintf("%08x", h.Sum32())
}()

var testDBName = regexp.MustCompile(`^invitd_(?:test|template)_([0-9a-f]{8})_([0-9]+)(?:_[0-9]+)?$`)

// dropAbandoned drops the databases of test processes of this machine that
// are gone without cleaning up, killed by a timeout for instance.
func dropAbandoned(ctx context.Context, a *pgxpool.Pool) {
	rows, err := a.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'invitd\\_%'")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		m := testDBName.FindStringSubmatch(name)
		if m == nil || m[1] != hostTag {
			continue
		}
		pid, err := strconv.Atoi(m[2])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_, _ = a.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func connect(ctx context.Context, u string) (*pgxpool.Pool, error) {
	p, err := pgxpool.New(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// createDatabase makes a database, from tmpl when set, dropped when t ends;
// it returns its URL.
func createDatabase(t testing.TB, tmpl string) string {
	t.Helper()
	a := adminPool(t)
	name := fmt.Sprintf("invitd_test_%s_%d_%d", hostTag, os.Getpid(), dbSeq.Add(1))
	q := "CREATE DATABASE " + quoteIdent(name)
	if tmpl != "" {
		q += " TEMPLATE " + quoteIdent(tmpl)
	}
	if _, err := a.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return withDatabase(t, baseURL(t), name)
}

// emptyDatabase is a new database with nothing in it.
func emptyDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// migratedDatabase is a new database with the schema and no rows, copied
// from a template migrated once per test process.
func migratedDatabase(t testing.TB) string {
	t.Helper()
	a := adminPool(t)
	templateOnce.Do(func() {
		name := fmt.Sprintf("invitd_template_%s_%d", hostTag, os.Getpid())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, templateErr = a.Exec(ctx, "CREATE DATABASE "+quoteIdent(name)); templateErr != nil {
			return
		}
		template = name
		var s *Store
		if s, templateErr = open(ctx, withDatabase(t, baseURL(t), name)); templateErr == nil {
			s.Close()
		}
	})
	if templateErr != nil {
		t.Fatalf("making the template database: %v", templateErr)
	}
	return createDatabase(t, template)
}

// openStore opens a store on a new migrated database, closed when t ends.
func openStore(t testing.TB) (*Store, string) {
	t.Helper()
	u := migratedDatabase(t)
	s := openURL(t, u)
	return s, u
}

// openURL opens another store on the database at u, closed when t ends.
func openURL(t testing.TB, u string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := open(ctx, u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) invite.Store {
		s, _ := openStore(t)
		return s
	})
}

// Three nodes starting at once on an empty database all come up, and the
// schema is made once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	u := emptyDatabase(t)
	ctx, cancel := context.WithTimeout(invite.WithPrincipal(context.Background(), invite.System), 2*time.Minute)
	defer cancel()
	const nodes = 3
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = open(ctx, u)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	for i, s := range stores {
		if err := s.Ping(ctx); err != nil {
			t.Errorf("node %d: Ping: %v", i, err)
		}
	}
	var applied, tables int
	err := stores[0].pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Errorf("goose_db_version has %d applied migrations, want each of the %d once", applied, len(files))
	}
	err = stores[0].pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
		AND tablename IN ('organizations', 'api_keys', 'members', 'invitations', 'idempotency_keys', 'outbox')`).Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 6 {
		t.Errorf("found %d of the 6 tables", tables)
	}
	// Every node serves, reading what another wrote.
	svcs := services(t, stores)
	org, err := svcs[0].CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, svc := range svcs {
		if _, err := svc.GetOrg(ctx, org.ID); err != nil {
			t.Errorf("node %d: GetOrg: %v", i, err)
		}
	}
}

func services(t *testing.T, stores []*Store) []*invite.Service {
	t.Helper()
	out := make([]*invite.Service, len(stores))
	for i, s := range stores {
		svc, err := invite.NewService(s, invite.Config{})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = svc
	}
	return out
}

// Fifty creates of one email at once through three nodes' pools make one
// invitation; every other create is a conflict.
func TestConcurrentCreateOneEmailAcrossNodes(t *testing.T) {
	_, u := openStore(t)
	stores := []*Store{openURL(t, u), openURL(t, u), openURL(t, u)}
	svcs := services(t, stores)
	ctx, cancel := context.WithTimeout(invite.WithPrincipal(context.Background(), invite.System), time.Minute)
	defer cancel()
	org, err := svcs[0].CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var created, conflicts atomic.Int64
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := svcs[i%len(svcs)].CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: "Race@Example.com"})
			switch {
			case err == nil:
				created.Add(1)
			case invite.ErrorKind(err) == invite.KindConflict:
				conflicts.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("create: %v", err)
	}
	if created.Load() != 1 || conflicts.Load() != n-1 {
		t.Errorf("created %d, conflicts %d; want 1 and %d", created.Load(), conflicts.Load(), n-1)
	}
	var rows int
	if err := stores[2].pool.QueryRow(ctx, "SELECT count(*) FROM invitations WHERE email = 'race@example.com'").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d invitations stored, want 1", rows)
	}
	for i, svc := range svcs {
		page, err := svc.ListInvitations(ctx, org.ID, invite.ListParams{State: "pending"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Errorf("node %d lists %d pending invitations, want 1", i, len(page.Items))
		}
	}
}

// An invitation accepted on one node while another node invites the same
// address ends with the member and no pending invitation for them.
func TestAcceptRacingCreateAcrossNodes(t *testing.T) {
	_, u := openStore(t)
	svcs := services(t, []*Store{openURL(t, u), openURL(t, u)})
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	org, err := svcs[0].CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		email := fmt.Sprintf("racer%d@example.com", i)
		first, err := svcs[0].CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: email, NoEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var acceptErr, createErr error
		wg.Go(func() { _, acceptErr = svcs[0].AcceptByToken(ctx, first.Token, "Racer") })
		wg.Go(func() {
			_, createErr = svcs[1].CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: email, NoEmail: true})
		})
		wg.Wait()
		if acceptErr != nil {
			t.Fatalf("accept: %v", acceptErr)
		}
		if createErr == nil {
			t.Fatalf("%s: a new invitation was made for someone who had just joined", email)
		}
		if invite.ErrorKind(createErr) != invite.KindConflict {
			t.Fatalf("%s: create = %v, want a conflict", email, createErr)
		}
	}
}

// A resend of an expired invitation racing the accept of the newer one for
// the same address ends with the member and no pending invitation for them.
func TestAcceptRacingResendAcrossNodes(t *testing.T) {
	_, u := openStore(t)
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var svcs []*invite.Service
	for range 2 {
		svc, err := invite.NewService(openURL(t, u), invite.Config{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	ctx := invite.WithPrincipal(t.Context(), invite.System)
	org, err := svcs[0].CreateOrg(ctx, "Acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		email := fmt.Sprintf("racer%d@example.com", i)
		old, err := svcs[0].CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: email, NoEmail: true, ExpiresIn: 3600})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(2 * time.Hour)
		mu.Unlock()
		newer, err := svcs[0].CreateInvitation(ctx, org.ID, invite.CreateInvitation{Email: email, NoEmail: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var acceptErr, resendErr error
		wg.Go(func() { _, acceptErr = svcs[0].AcceptByToken(ctx, newer.Token, "Racer") })
		wg.Go(func() {
			_, resendErr = svcs[1].ResendInvitation(ctx, org.ID, invite.InvitationRef{ID: old.Invitation.ID})
		})
		wg.Wait()
		if acceptErr != nil {
			t.Fatalf("accept: %v", acceptErr)
		}
		if resendErr == nil {
			t.Fatalf("%s: an old invitation was made pending again for someone who had just joined", email)
		}
		if invite.ErrorKind(resendErr) != invite.KindConflict {
			t.Fatalf("%s: resend = %v, want a conflict", email, resendErr)
		}
	}
}
