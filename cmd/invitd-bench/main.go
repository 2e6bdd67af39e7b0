// Command invitd-bench measures invitd against baselines measured in the same
// run: a plain net/http JSON handler, and raw single-row insert transactions
// on the same database with the settings invitd uses. It prints requests per
// second, p50 and p99 for each, and invitd's rates as ratios of the baselines.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

const adminKey = "bench-admin-key-0123456789abcdefghijkl"

// benchSecret is the server secret of every node, which on PostgreSQL share one database.
const benchSecret = "bench-secret-0123456789abcdefghijklmnopqr"

// orgSettings are the settings of the bench's organizations: the abuse
// limits would refuse its load. With -limits the mail and hourly limits are
// counted on every create, with bounds the load does not reach.
var orgSettings = map[string]any{"max_invitations_per_hour": invite.NoLimit,
	"max_mails_per_recipient_per_day": invite.NoLimit, "max_requests_per_second": invite.NoLimit}

func main() {
	db := flag.String("db", "", "database for invitd and the raw-insert baseline: sqlite:PATH or postgres://... (default: a fresh SQLite file)")
	sync := flag.String("sync", "NORMAL", "SQLite synchronous setting: NORMAL or FULL")
	conc := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 5*time.Second, "duration of each measurement")
	nodes := flag.Int("nodes", 1, "invitd nodes sharing the database (PostgreSQL only for more than 1)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of invitd's create and list phases to this file")
	webhooks := flag.Int("webhooks", 0, "also measure create with this many webhook endpoints on a local receiver against create without, and a burst of 5,000 events")
	rounds := flag.Int("rounds", 3, "with -webhooks: rounds of create without and with endpoints, each from an idle node")
	bulk := flag.Bool("bulk", false, "also measure one bulk create of 1,000 rows against 1,000 single creates, from one client and from -c")
	limits := flag.Bool("limits", false, "count the per-recipient and hourly limits on every create (their bounds out of the load's reach)")
	flag.Parse()
	if *limits {
		orgSettings = map[string]any{"max_invitations_per_hour": invite.MaxLimitSetting, "max_requests_per_second": invite.NoLimit}
	}
	if err := run(*db, strings.ToUpper(*sync), *conc, *dur, *nodes, *cpuprofile, *webhooks, max(*rounds, 1), *bulk); err != nil {
		fmt.Fprintln(os.Stderr, "invitd-bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name  string
	n     int
	errs  int
	rps   float64
	p50   time.Duration
	p99   time.Duration
	total time.Duration
	// cpu is the process's CPU time per request while the load ran: the
	// load generator's and the server's, with whatever ran beside them.
	cpu time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%-34s %9.0f req/s  p50 %8s  p99 %8s  cpu/req %6s  (%d ok, %d errors)", r.name, r.rps,
		r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.cpu.Round(time.Microsecond), r.n, r.errs)
}

// cpuTime is the CPU time the process has used, in user and system mode.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load runs op from conc goroutines for d and summarizes the latencies.
func load(name string, conc int, d time.Duration, op func(worker, i int) error) result {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var seq atomic.Int64
	start, cpu0 := time.Now(), cpuTime()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := op(w, int(seq.Add(1)))
				if errors.Is(err, errStop) {
					break
				}
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{name: name, n: len(lat), errs: int(errs.Load()), total: elapsed, rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		r.cpu = (cpuTime() - cpu0) / time.Duration(len(lat))
	}
	fmt.Println(r)
	return r
}

func run(db, sync string, conc int, d time.Duration, nodes int, cpuprofile string, webhooks, rounds int, bulk bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "invitd-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "invitd.db") + "?synchronous=" + sync
	}
	isPG := strings.HasPrefix(db, "postgres")
	if nodes > 1 && !isPG {
		return fmt.Errorf("several nodes need PostgreSQL")
	}
	server.TuneGC() // as invitd serve does; the baselines share the process, and so the setting
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2}}
	fmt.Printf("invitd-bench: %d clients, %s each, database %s, %d node(s)\n\n", conc, d, strings.SplitN(db, "?", 2)[0], nodes)

	// (a) a plain net/http handler answering JSON bodies like invitd's: one
	// invitation (as a create answers) and a page of 20 (as a list answers).
	one, page := sampleBodies()
	plainURL, stopPlain, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/page" {
			w.Write(page)
			return
		}
		w.Write(one)
	}))
	if err != nil {
		return err
	}
	plain := load("(a) plain net/http, one invitation", conc, d, func(_, _ int) error {
		return do(client, "GET", plainURL+"/", "", nil, 200, nil)
	})
	plainPage := load("(a) plain net/http, a page of 20", conc, d, func(_, _ int) error {
		return do(client, "GET", plainURL+"/page", "", nil, 200, nil)
	})
	stopPlain()

	// (b) raw single-row insert transactions with invitd's settings.
	var raw result
	if isPG {
		raw, err = rawPostgres(ctx, db, conc, d)
	} else {
		raw, err = rawSQLite(filepath.Join(dir, "raw.db"), sync, conc, d)
	}
	if err != nil {
		return err
	}

	// (c) invitd through real HTTP.
	var urls []string
	var first *server.Server
	for i := range nodes {
		// The load is the point: no key's requests are limited.
		srv, err := server.Open(ctx, server.Config{DB: db, AdminKey: adminKey, Secret: benchSecret, BaseURL: "http://bench",
			KeyRate: 1e9, KeyBurst: invite.MaxLimitSetting,
			Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
			WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}) // the bench's receiver
		if err != nil {
			return err
		}
		defer srv.Close()
		u, stop, err := listenServer(srv)
		if err != nil {
			return err
		}
		defer stop()
		urls = append(urls, u)
		if i == 0 {
			first = srv
		}
	}
	var org struct{ ID string }
	if err := do(client, "POST", urls[0]+"/v1/organizations", adminKey, map[string]any{"name": "Bench", "settings": orgSettings}, 201, &org); err != nil {
		return err
	}
	base := "/v1/organizations/" + org.ID + "/invitations"
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	prefix := fmt.Sprintf("b%d", time.Now().UnixNano())
	create := load("(c) invitd create", conc, d, func(w, i int) error {
		return do(client, "POST", urls[i%len(urls)]+base, adminKey,
			map[string]any{"email": fmt.Sprintf("%s-%d@example.com", prefix, i), "role": "member"}, 201, nil)
	})
	// Let the mail worker deliver what the creates queued (to the log, here),
	// so that the list is measured on its own.
	drained := time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if due(ctx, first.Service, invite.JobSendInvitation) == 0 {
			break
		}
	}
	fmt.Printf("%-34s %9s  (the outbox drained in %s)\n", "(c) mail for the creates", "", time.Since(drained).Round(time.Millisecond))
	list := load("(c) invitd list of 20", conc, d, func(w, i int) error {
		return do(client, "GET", urls[i%len(urls)]+base+"?limit=20", adminKey, nil, 200, nil)
	})

	fmt.Printf("\nratios (same run):\n")
	fmt.Printf("  list   / plain handler, a page of 20  = %5.1f%%\n", 100*list.rps/plainPage.rps)
	fmt.Printf("  list   / plain handler, one           = %5.1f%%\n", 100*list.rps/plain.rps)
	fmt.Printf("  create / plain handler, one           = %5.1f%%\n", 100*create.rps/plain.rps)
	fmt.Printf("  create / raw insert                   = %5.1f%%\n", 100*create.rps/raw.rps)
	if bulk {
		if err := benchBulk(client, urls[0], first.Service, rounds, conc, prefix); err != nil {
			return err
		}
	}
	if webhooks > 0 {
		return benchWebhooks(client, urls, first.Service, webhooks, rounds, conc, d, raw, prefix)
	}
	return nil
}

// benchBulk times one bulk create of 1,000 rows against 1,000 single
// creates sent by one client and by conc, each in an organization of its
// own and from an idle node (the mail of the phase before sent), in
// rounds that alternate them.
func benchBulk(client *http.Client, url string, svc *invite.Service, rounds, conc int, prefix string) error {
	const n = 1000
	settings := map[string]any{"max_invitations_per_hour": invite.NoLimit, "max_requests_per_second": invite.NoLimit}
	newOrg := func() (string, error) {
		var org struct{ ID string }
		err := do(client, "POST", url+"/v1/organizations", adminKey, map[string]any{"name": "Bulk", "settings": settings}, 201, &org)
		return "/v1/organizations/" + org.ID + "/invitations", err
	}
	idle := func() {
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && due(context.Background(), svc, invite.JobSendInvitation) > 0; {
			time.Sleep(20 * time.Millisecond)
		}
	}
	email := func(phase string, round, i int) string {
		return fmt.Sprintf("%s-%s%d-%d@example.com", prefix, phase, round, i)
	}
	singles := func(phase string, round, clients int) (time.Duration, error) {
		path, err := newOrg()
		if err != nil {
			return 0, err
		}
		idle()
		var next atomic.Int64
		errs := make(chan error, clients)
		start := time.Now()
		for range clients {
			go func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := do(client, "POST", url+path, adminKey, map[string]any{"email": email(phase, round, i)}, 201, nil); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range clients {
			if e := <-errs; e != nil && err == nil {
				err = e
			}
		}
		return time.Since(start), err
	}
	fmt.Printf("\nbulk create of %d rows against %d single creates (%d rounds, each from an idle node):\n", n, n, rounds)
	var ratios1, ratiosC []float64
	for round := range rounds {
		one, err := singles("one", round, 1)
		if err != nil {
			return err
		}
		many, err := singles("many", round, conc)
		if err != nil {
			return err
		}
		path, err := newOrg()
		if err != nil {
			return err
		}
		idle()
		rows := make([]map[string]any, n)
		for i := range rows {
			rows[i] = map[string]any{"email": email("bulk", round, i)}
		}
		var answer struct{ Created int }
		start := time.Now()
		if err := do(client, "POST", url+path+"/bulk", adminKey, map[string]any{"invitations": rows}, 200, &answer); err != nil {
			return err
		}
		b := time.Since(start)
		if answer.Created != n {
			return fmt.Errorf("the bulk create made %d of %d", answer.Created, n)
		}
		ratios1, ratiosC = append(ratios1, float64(one)/float64(b)), append(ratiosC, float64(many)/float64(b))
		fmt.Printf("  round %d: bulk %8s; singles from 1 client %8s (%4.1fx), from %d clients %8s (%4.1fx)\n", round+1,
			b.Round(time.Millisecond), one.Round(time.Millisecond), ratios1[round], conc, many.Round(time.Millisecond), ratiosC[round])
	}
	slices.Sort(ratios1)
	slices.Sort(ratiosC)
	fmt.Printf("  bulk / single creates: %.1fx quicker than from 1 client, %.1fx than from %d clients (medians)\n",
		ratios1[len(ratios1)/2], ratiosC[len(ratiosC)/2], conc)
	return nil
}

// benchWebhooks measures create in an organization with n endpoints on a
// local receiver (so that every create also queues n deliveries, which go
// out meanwhile) against create in one without, in rounds that alternate
// the two, each from an idle node (its mail and deliveries done): the
// machine's drift falls on both alike. Then it measures how fast a burst
// of 5,000 events reaches every endpoint.
func benchWebhooks(client *http.Client, urls []string, svc *invite.Service, n, rounds, conc int, d time.Duration, raw result, prefix string) error {
	var got atomic.Int64
	recv, stop, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		return err
	}
	defer stop()
	orgPath := func(name string) (string, error) {
		var org struct{ ID string }
		err := do(client, "POST", urls[0]+"/v1/organizations", adminKey, map[string]any{"name": name, "settings": orgSettings}, 201, &org)
		return "/v1/organizations/" + org.ID, err
	}
	plainOrg, err := orgPath("Bench without webhooks")
	if err != nil {
		return err
	}
	hookedOrg, err := orgPath("Bench webhooks")
	if err != nil {
		return err
	}
	for i := range n {
		hook := map[string]any{"url": fmt.Sprintf("%s/hook/%d", recv, i)}
		if err := do(client, "POST", urls[0]+hookedOrg+"/webhooks", adminKey, hook, 201, nil); err != nil {
			return err
		}
	}
	creates := func(name, org, tag string) result {
		return load(name, conc, d, func(w, i int) error {
			return do(client, "POST", urls[i%len(urls)]+org+"/invitations", adminKey,
				map[string]any{"email": fmt.Sprintf("%s-%s%d@example.com", prefix, tag, i), "role": "member"}, 201, nil)
		})
	}
	// idle waits for the mail and the deliveries queued so far.
	var delivered int64
	idle := func(deliveries int) {
		delivered += int64(deliveries)
		for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got.Load() >= delivered && due(context.Background(), svc, invite.JobSendInvitation) == 0 {
				return
			}
		}
	}
	fmt.Printf("\nwith %d webhook endpoint(s) on a local receiver, %d rounds:\n", n, rounds)
	var points []float64
	for r := range rounds {
		idle(0)
		plain := creates(fmt.Sprintf("(c) round %d: create, no endpoints", r+1), plainOrg, fmt.Sprintf("p%d-", r))
		idle(0)
		hooked := creates(fmt.Sprintf("(c) round %d: create, webhooks", r+1), hookedOrg, fmt.Sprintf("h%d-", r))
		idle(n * hooked.n)
		points = append(points, 100*(hooked.rps-plain.rps)/raw.rps)
		fmt.Printf("%-34s %9s  create / raw insert %.1f%% without endpoints, %.1f%% with (%+.1f points)\n", "", "",
			100*plain.rps/raw.rps, 100*hooked.rps/raw.rps, points[r])
	}
	// The burst: 5,000 creates without mail, one event each, every event to every endpoint.
	got.Store(0)
	const burst = 5000
	start := time.Now()
	load("(c) burst of 5,000 creates", conc, 10*time.Minute, func(w, i int) error {
		if i > burst {
			return errStop
		}
		return do(client, "POST", urls[i%len(urls)]+hookedOrg+"/invitations", adminKey,
			map[string]any{"email": fmt.Sprintf("%s-b%d@example.com", prefix, i), "role": "member", "send_email": false}, 201, nil)
	})
	// What is delivered after the creates is delivered alone: the CPU it
	// takes is what deliveries cost, receiver included.
	tailFrom, tailCPU := got.Load(), cpuTime()
	want := int64(burst * n)
	for deadline := time.Now().Add(10 * time.Minute); got.Load() < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	fmt.Printf("%-34s %9.0f deliveries/s  (%d of %d delivered in %s)\n", "(c) webhook deliveries of the burst",
		float64(got.Load())/elapsed.Seconds(), got.Load(), want, elapsed.Round(time.Millisecond))
	if tail := got.Load() - tailFrom; tail > 0 {
		fmt.Printf("%-34s %9s  cpu/delivery %s  (the %d delivered after the creates)\n", "", "",
			((cpuTime() - tailCPU) / time.Duration(tail)).Round(time.Microsecond), tail)
	}
	slices.Sort(points)
	fmt.Printf("\nratios (same run):\n")
	fmt.Printf("  create with webhooks against without  = %+5.1f points of raw insert (median of %d rounds; %+.1f to %+.1f)\n",
		points[len(points)/2], len(points), points[0], points[len(points)-1])
	return nil
}

// errStop ends a load early: the op has done all it was to do.
var errStop = errors.New("done")

// waitIdle waits until the receiver has had nothing for a moment.
func waitIdle(got *atomic.Int64) {
	for last := int64(-1); got.Load() != last; time.Sleep(500 * time.Millisecond) {
		last = got.Load()
	}
}

// sampleBodies returns an invitation and a page of 20 as invitd writes them.
func sampleBodies() (one, page []byte) {
	inv := map[string]any{
		"id": "01936f3e-7b1c-7cc3-9c61-0f1f1d1f8a10", "number": 12345, "organization_id": "01JD7S2W6T0M6V7B5X1PQ4R8ZK",
		"email": "someone@example.com", "role": "member", "permissions": []string{"billing"},
		"inviter": map[string]any{"id": "u_1", "name": "Alice"}, "state": "pending",
		"created_at": time.Now(), "updated_at": time.Now(), "expires_at": time.Now(), "finished_at": nil, "error": nil,
		"metadata": map[string]any{}, "locale": "", "send_count": 1, "last_sent_at": time.Now(),
	}
	one, _ = json.Marshal(inv)
	data := make([]any, 20)
	for i := range data {
		data[i] = inv
	}
	page, _ = json.Marshal(map[string]any{"data": data, "next_cursor": "eyJzIjoiLWNyZWF0ZWRfYXQiLCJ0IjoxNzk2MDcwODUyMDAwMDAwLCJuIjo0MjF9"})
	return one, page
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func listenServer(s *server.Server) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

func do(c *http.Client, method, url, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

const rawTable = `CREATE TABLE IF NOT EXISTS raw_insert (
	id TEXT PRIMARY KEY, org_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
	state TEXT NOT NULL, created_at BIGINT NOT NULL, payload TEXT NOT NULL)`

func rawSQLite(path, sync string, conc int, d time.Duration) (result, error) {
	// The same settings as store/sqlite: WAL, one writer, IMMEDIATE transactions.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(rawTable); err != nil {
		return result{}, err
	}
	return load("(b) raw SQLite insert tx", conc, d, func(w, i int) error {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO raw_insert VALUES (?, ?, ?, ?, ?, ?, ?)", fmt.Sprint(i), "org", fmt.Sprintf("r%d@example.com", i),
			"member", "pending", time.Now().UnixMicro(), "{}"); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}), nil
}

func rawPostgres(ctx context.Context, url string, conc int, d time.Duration) (result, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return result{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, strings.Replace(rawTable, "raw_insert", "bench_raw_insert", 1)); err != nil {
		return result{}, err
	}
	defer pool.Exec(ctx, "DROP TABLE bench_raw_insert")
	prefix := fmt.Sprint(time.Now().UnixNano())
	return load("(b) raw PostgreSQL insert tx", conc, d, func(w, i int) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO bench_raw_insert VALUES ($1, $2, $3, $4, $5, $6, $7)", prefix+fmt.Sprint(i), "org",
			fmt.Sprintf("r%d@example.com", i), "member", "pending", time.Now().UnixMicro(), "{}"); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	}), nil
}

// due counts the queued jobs of kind whose time has come; 0 on an error.
func due(ctx context.Context, svc *invite.Service, kind string) int {
	stats, _, err := svc.JobStats(invite.WithPrincipal(ctx, invite.System))
	if err != nil {
		return 0
	}
	for _, s := range stats {
		if s.Kind == kind {
			return s.Due
		}
	}
	return 0
}
