// Command invitd-bench measures invitd against baselines measured in the same
// run: a plain net/http JSON handler, and raw single-row insert transactions
// on the same database with the settings invitd uses. It prints requests per
// second, p50 and p99 for each, and invitd's rates as ratios of the baselines.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

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

// options are the bench's flags.
type options struct {
	db, sync   string
	conc       int
	d          time.Duration
	nodes      int
	cpuprofile string
	runs       int
	webhooks   int
	rounds     int
	bulk       bool
	rows       int
	mail       int
	footprint  bool
	soak       time.Duration
	invitd     string
}

func main() {
	var o options
	flag.StringVar(&o.db, "db", "", "database for invitd and the raw-insert baseline: sqlite:PATH or postgres://... (default: a fresh SQLite file)")
	flag.StringVar(&o.sync, "sync", "NORMAL", "SQLite synchronous setting: NORMAL or FULL")
	flag.IntVar(&o.conc, "c", 16, "concurrent clients")
	flag.DurationVar(&o.d, "d", 5*time.Second, "duration of each measurement")
	flag.IntVar(&o.nodes, "nodes", 1, "invitd nodes sharing the database (PostgreSQL only for more than 1)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the bench process (the in-process nodes and their load) over every phase to this file")
	flag.IntVar(&o.runs, "runs", 5, "runs of the baselines, create and list, whose ratios' medians are the results (0: none)")
	flag.IntVar(&o.webhooks, "webhooks", 0, "also measure create with this many webhook endpoints on a local receiver against create without, and a burst of 5,000 events")
	flag.IntVar(&o.rounds, "rounds", 3, "with -webhooks or -bulk: rounds, each from an idle node")
	flag.BoolVar(&o.bulk, "bulk", false, "also measure one bulk create of 1,000 rows against 1,000 single creates, from one client and from -c")
	flag.IntVar(&o.rows, "rows", 0, "also load this many invitations through the store and measure lists and gets at 10,000 rows and at this many")
	flag.IntVar(&o.mail, "mail", 0, "also send this many invitations' mail to an SMTP server in the bench and measure mails per second")
	flag.BoolVar(&o.footprint, "footprint", false, "also measure an invitd process: time to ready, peak and idle RSS under create and list load, the binary's size")
	flag.DurationVar(&o.soak, "soak", 0, "also run a mixed load against an invitd process this long, printing its resources every minute")
	flag.StringVar(&o.invitd, "invitd", "", "with -footprint or -soak: the invitd binary (default: built from this module)")
	limits := flag.Bool("limits", false, "count the per-recipient and hourly limits on every create (their bounds out of the load's reach)")
	flag.Parse()
	if *limits {
		orgSettings = map[string]any{"max_invitations_per_hour": invite.MaxLimitSetting, "max_requests_per_second": invite.NoLimit}
	}
	o.sync, o.rounds = strings.ToUpper(o.sync), max(o.rounds, 1)
	err := run(o)
	printResults()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invitd-bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "invitd-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := o.db
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "invitd.db") + "?synchronous=" + o.sync
	}
	isPG := strings.HasPrefix(db, "postgres")
	if o.nodes > 1 && !isPG {
		return fmt.Errorf("several nodes need PostgreSQL")
	}
	server.TuneGC() // as invitd serve does; the baselines share the process, and so the setting
	if os.Getenv("GOMEMLIMIT") == "" {
		// The bench's receivers keep what they receive (10,000 mails are
		// tens of MiB): a limit sized for invitd alone would have the
		// collector run for them. -footprint measures invitd with it.
		debug.SetMemoryLimit(math.MaxInt64)
	}
	conc, d := o.conc, o.d
	client := newClient(conc)
	fmt.Printf("invitd-bench: %d clients, %s each, database %s, %d node(s)\n\n", conc, d, strings.SplitN(db, "?", 2)[0], o.nodes)

	// invitd through real HTTP.
	var urls []string
	var first *server.Server
	for i := range o.nodes {
		srv, u, stop, err := startNode(ctx, db, server.Config{})
		if err != nil {
			return err
		}
		defer srv.Close()
		defer stop()
		urls = append(urls, u)
		if i == 0 {
			first = srv
		}
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
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
	var raw result
	if o.runs > 0 {
		if raw, err = throughput(ctx, o, client, dir, isPG, db, urls, first, prefix); err != nil {
			return err
		}
	}
	if o.bulk {
		if err := benchBulk(client, urls[0], first.Service, o.rounds, conc, prefix); err != nil {
			return err
		}
	}
	if o.webhooks > 0 {
		if raw.rps == 0 {
			return fmt.Errorf("-webhooks compares against the raw insert: it needs -runs")
		}
		if err := benchWebhooks(client, urls, first.Service, o.webhooks, o.rounds, conc, d, raw, prefix); err != nil {
			return err
		}
	}
	if o.rows > 0 {
		if err := benchScale(ctx, o, client, dir, db); err != nil {
			return err
		}
	}
	if o.mail > 0 {
		if err := benchMail(ctx, o, dir); err != nil {
			return err
		}
	}
	if o.footprint || o.soak > 0 {
		if err := benchProcess(ctx, o, dir); err != nil {
			return err
		}
	}
	return nil
}

// newClient is the bench's HTTP client for conc concurrent requests. It
// closes a connection idle for 90 s (as Go's default client does), before
// invitd would (server.IdleTimeout): otherwise a create sent as invitd
// closes the connection fails.
func newClient(conc int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2, IdleConnTimeout: 90 * time.Second}}
}

// startNode opens an invitd node on db with the bench's settings laid over
// cfg and serves it on a loopback port.
func startNode(ctx context.Context, db string, cfg server.Config) (*server.Server, string, func(), error) {
	cfg.DB, cfg.AdminKey, cfg.Secret, cfg.BaseURL = db, adminKey, benchSecret, "http://bench"
	// The load is the point: no key's requests are limited.
	cfg.KeyRate, cfg.KeyBurst = 1e9, invite.MaxLimitSetting
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // the bench's receivers
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, "", nil, err
	}
	u, stop, err := listenServer(srv)
	if err != nil {
		srv.Close()
		return nil, "", nil, err
	}
	return srv, u, stop, nil
}

// throughput measures, o.runs times, the baselines (a plain handler and
// raw insert transactions) and invitd's create and list, and reports the
// medians of the runs' ratios. It returns the last raw-insert baseline.
func throughput(ctx context.Context, o options, client *http.Client, dir string, isPG bool, db string, urls []string,
	first *server.Server, prefix string) (result, error) {
	conc, d := o.conc, o.d
	// A plain net/http handler answering JSON bodies like invitd's: one
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
		return result{}, err
	}
	defer stopPlain()
	var org struct{ ID string }
	if err := do(client, "POST", urls[0]+"/v1/organizations", adminKey, map[string]any{"name": "Bench", "settings": orgSettings}, 201, &org); err != nil {
		return result{}, err
	}
	base := "/v1/organizations/" + org.ID + "/invitations"
	var createRatios, listRatios []float64
	var raw result
	for r := range o.runs {
		fmt.Printf("run %d of %d\n", r+1, o.runs)
		plain := load("(a) plain net/http, one invitation", conc, d, func(_, _ int) error {
			return do(client, "GET", plainURL+"/", "", nil, 200, nil)
		})
		plainPage := load("(a) plain net/http, a page of 20", conc, d, func(_, _ int) error {
			return do(client, "GET", plainURL+"/page", "", nil, 200, nil)
		})
		// Raw single-row insert transactions with invitd's settings.
		if isPG {
			raw, err = rawPostgres(ctx, db, conc, d)
		} else {
			raw, err = rawSQLite(filepath.Join(dir, fmt.Sprintf("raw%d.db", r)), o.sync, conc, d)
		}
		if err != nil {
			return result{}, err
		}
		create := load("(c) invitd create", conc, d, func(w, i int) error {
			return do(client, "POST", urls[i%len(urls)]+base, adminKey,
				map[string]any{"email": fmt.Sprintf("%s-r%d-%d@example.com", prefix, r, i), "role": "member"}, 201, nil)
		})
		// Let the mail worker deliver what the creates queued (to the log,
		// here), so that the list is measured on its own.
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
		fmt.Printf("  list   / plain handler, a page of 20  = %5.1f%%\n", 100*list.rps/plainPage.rps)
		fmt.Printf("  list   / plain handler, one           = %5.1f%%\n", 100*list.rps/plain.rps)
		fmt.Printf("  create / plain handler, one           = %5.1f%%\n", 100*create.rps/plain.rps)
		fmt.Printf("  create / raw insert                   = %5.1f%%\n\n", 100*create.rps/raw.rps)
		createRatios = append(createRatios, create.rps/raw.rps)
		listRatios = append(listRatios, list.rps/plainPage.rps)
	}
	fmt.Printf("ratios (same run, median of %d runs):\n", o.runs)
	fmt.Printf("  create / raw insert                   = %5.1f%%  (%s)\n", 100*median(createRatios), percents(createRatios))
	fmt.Printf("  list   / plain handler, a page of 20  = %5.1f%%  (%s)\n", 100*median(listRatios), percents(listRatios))
	report("create_vs_raw_insert", median(createRatios))
	report("list_vs_plain_page", median(listRatios))
	return raw, nil
}
