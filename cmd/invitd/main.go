// Command invitd is the organization-invitations service and its CLI.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/server"
	"github.com/invitd/invitd/store"
	"github.com/invitd/invitd/store/sqlite"
	"github.com/invitd/invitd/webhook"
)

const usage = `invitd — organization invitations

Usage:
  invitd version                    print the version and the revision it was built from
  invitd serve                      run the HTTP service and its background jobs (mail, webhooks, expiry)
  invitd migrate                    create or upgrade the database schema
  invitd healthcheck                exit 0 when the local serve answers /readyz (for a container's health check)
  invitd backup FILE                a consistent copy of the SQLite database, taken while it serves
  invitd org create --name NAME     create an organization
  invitd key create --org ORG       create an API key for an organization (--admin: an admin key)
  invitd invite create --org ORG --email EMAIL [--role R] [--permissions a,b] [--expires-in SECS] [--locale L] [--no-email]
  invitd invite list --org ORG [--state S] [--email E] [--role R] [--sort S] [--limit N] [--cursor C]
  invitd invite get|cancel|resend --org ORG --id ID
  invitd invite import --org ORG --csv FILE [--dry-run]
                                    invite every row of a CSV (columns: email, role, permissions, locale,
                                    expires_in, metadata, redirect_url); prints a result per row
  invitd events list --org ORG [--type T[,T...]] [--after CURSOR] [--limit N]
                                    the organization's events, oldest first (--type takes prefixes such as invitation.*)
  invitd webhook create --org ORG --url URL [--events a,b] [--description D]
                                    add a webhook endpoint; prints its secret, shown only now
  invitd webhook list --org ORG
  invitd webhook get|delete|test --org ORG --id WEBHOOK
  invitd webhook deliveries --org ORG --id WEBHOOK [--limit N] [--cursor C]
  invitd webhook retry --org ORG --id WEBHOOK --event EVENT

Every command takes --db (INVITD_DB, default sqlite:invitd.db); run any
command with -h for its flags. Results are printed as JSON. webhook create
refuses the URLs serve would (INVITD_WEBHOOK_ALLOW_NETWORKS applies to both).
`

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // CMD -h: the flag package printed the command's flags
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invitd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "org" || cmd == "key" || cmd == "invite" || cmd == "events" || cmd == "webhook" {
		if len(rest) == 0 {
			return fmt.Errorf("%s needs a subcommand; see invitd help", cmd)
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stderr)
	case "migrate":
		fs, db := newFlags("migrate")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		st, err := store.Open(ctx, *db)
		if err != nil {
			return err
		}
		return st.Close()
	case "backup":
		fs, db := newFlags("backup")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("backup takes one argument, the file to write: invitd backup FILE")
		}
		if !strings.HasPrefix(*db, "sqlite:") {
			return errors.New("backup copies a SQLite database; on PostgreSQL use pg_dump (see the README's Backups)")
		}
		path, _, err := sqlite.ParseURL(*db)
		if err != nil {
			return err
		}
		if err := sqlite.Backup(ctx, path, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s; keep %s with it, or set the same INVITD_SECRET when restoring: without it the copy's links and webhook secrets do not open\n",
			fs.Arg(0), sqlite.SecretPath(path))
		return nil
	case "healthcheck":
		fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
		addr := fs.String("addr", env("INVITD_ADDR", "127.0.0.1:8080"), "the address serve listens on (INVITD_ADDR)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return healthcheck(ctx, *addr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return nil
	}
	if _, ok := cliFlags[cmd]; ok {
		return cli(ctx, cmd, rest, stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envErr is the first environment variable that could not be read.
var envErr error

// envDuration reads a duration variable such as 90s or 2160h.
func envDuration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		if envErr == nil {
			envErr = fmt.Errorf("%s=%q is not a positive duration such as 90s or 2160h", name, v)
		}
		return def
	}
	return d
}

// parseDurations reads a comma-separated list of positive durations; "" is none.
func parseDurations(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", p)
		}
		out = append(out, d)
	}
	return out, nil
}

// envNumber reads a positive number variable; whole asks for a whole one.
func envNumber(name string, def float64, whole bool) float64 {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || (whole && n != math.Trunc(n)) {
		if envErr == nil {
			what := "a positive number"
			if whole {
				what = "a positive whole number"
			}
			envErr = fmt.Errorf("%s=%q is not %s", name, v, what)
		}
		return def
	}
	return n
}

// newFlags makes a flag set with the --db flag every command has.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	db := fs.String("db", env("INVITD_DB", "sqlite:invitd.db"), "database: sqlite:PATH[?synchronous=FULL] or postgres://... (INVITD_DB)")
	return fs, db
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, db := newFlags("serve")
	addr := fs.String("addr", env("INVITD_ADDR", "127.0.0.1:8080"), "listen address (INVITD_ADDR)")
	adminKey := fs.String("admin-key", env("INVITD_ADMIN_KEY", ""), "admin API key, 32+ characters (INVITD_ADMIN_KEY)")
	baseURL := fs.String("base-url", env("INVITD_BASE_URL", ""), "public URL used in mail links (INVITD_BASE_URL; default http://ADDR)")
	smtpURL := fs.String("smtp-url", env("INVITD_SMTP_URL", ""), "smtp://user:pass@host:port (STARTTLS, required unless the host is loopback or ?tls=opportunistic|none) or smtps://...; unset: mail goes to the log (INVITD_SMTP_URL)")
	from := fs.String("mail-from", env("INVITD_MAIL_FROM", "invitd <invitd@localhost>"), "sender of invitation mail (INVITD_MAIL_FROM)")
	smtpConns := fs.Int("smtp-connections", int(envNumber("INVITD_SMTP_CONNECTIONS", mail.DefaultConnections, true)), "invitation mails each node sends at once, each over its own SMTP connection (INVITD_SMTP_CONNECTIONS)")
	templates := fs.String("templates-dir", env("INVITD_TEMPLATES_DIR", ""), "folder of mail templates overriding the built-in ones (INVITD_TEMPLATES_DIR)")
	level := fs.String("log-level", env("INVITD_LOG_LEVEL", "info"), "debug, info, warn or error (INVITD_LOG_LEVEL)")
	retention := fs.Duration("event-retention", envDuration("INVITD_EVENT_RETENTION", server.DefaultEventRetention), "how long events are kept (INVITD_EVENT_RETENTION)")
	reminders := fs.Duration("reminder-interval", envDuration("INVITD_REMINDER_INTERVAL", server.DefaultReminderInterval), "how often due reminder mails are queued, once across the nodes (INVITD_REMINDER_INTERVAL)")
	allow := fs.String("webhook-allow-networks", env("INVITD_WEBHOOK_ALLOW_NETWORKS", ""), "comma-separated CIDRs webhook URLs may reach although not public (INVITD_WEBHOOK_ALLOW_NETWORKS)")
	hookTimeout := fs.Duration("webhook-timeout", envDuration("INVITD_WEBHOOK_TIMEOUT", webhook.DefaultTimeout), "how long one webhook delivery may take (INVITD_WEBHOOK_TIMEOUT)")
	retries := fs.String("webhook-retry-schedule", env("INVITD_WEBHOOK_RETRY_SCHEDULE", ""), "comma-separated waits before each webhook retry; default 5s,5m,30m,2h,5h,10h,14h,20h,24h (INVITD_WEBHOOK_RETRY_SCHEDULE)")
	lease := fs.Duration("job-lease", envDuration("INVITD_JOB_LEASE", 2*time.Minute), "how long a node holds the jobs it claimed; a dead node's jobs wait this long (INVITD_JOB_LEASE)")
	metricsAddr := fs.String("metrics-addr", env("INVITD_METRICS_ADDR", ""), "serve /metrics on this address of its own, and not on --addr (INVITD_METRICS_ADDR)")
	metricsToken := fs.String("metrics-token", env("INVITD_METRICS_TOKEN", ""), "bearer token /metrics requires, 16+ characters; prefer the variable to the flag, which ps shows (INVITD_METRICS_TOKEN)")
	poll := fs.Duration("job-poll", envDuration("INVITD_JOB_POLL", time.Second), "how often each node looks for due jobs (INVITD_JOB_POLL)")
	keyRate := fs.Float64("key-rate", envNumber("INVITD_KEY_RATE", invite.DefaultRequestsPerSecond, false), "requests per second each API key may make on this node, unless its organization sets max_requests_per_second (INVITD_KEY_RATE)")
	keyBurst := fs.Int("key-burst", int(envNumber("INVITD_KEY_BURST", invite.DefaultRequestBurst, true)), "requests each API key may make at once on this node (INVITD_KEY_BURST)")
	consoleIdle := fs.Duration("console-idle", envDuration("INVITD_CONSOLE_IDLE", invite.DefaultSessionIdle), "a console session ends this long after its last use (INVITD_CONSOLE_IDLE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if envErr != nil {
		return envErr
	}
	if *consoleIdle < time.Minute {
		return fmt.Errorf("--console-idle must be at least a minute")
	}
	if *smtpConns < 1 || *smtpConns > 64 {
		return fmt.Errorf("--smtp-connections (INVITD_SMTP_CONNECTIONS) must be from 1 to 64, not %d", *smtpConns)
	}
	if *keyRate <= 0 || math.IsInf(*keyRate, 0) || math.IsNaN(*keyRate) || *keyBurst <= 0 || *keyBurst > invite.MaxLimitSetting {
		return fmt.Errorf("--key-rate and --key-burst must be positive (the burst at most %d)", invite.MaxLimitSetting)
	}
	allowNets, err := webhook.ParseAllow(*allow)
	if err != nil {
		return fmt.Errorf("--webhook-allow-networks: %w", err)
	}
	schedule, err := parseDurations(*retries)
	if err != nil {
		return fmt.Errorf("--webhook-retry-schedule: %w", err)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv, ReplaceAttr: readableDurations}))
	slog.SetDefault(log)
	var warning string
	*baseURL, warning = publicURL(*baseURL, *addr)
	if warning != "" {
		log.Warn(warning, "base_url", *baseURL)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	server.TuneGC()
	srv, err := server.Open(ctx, server.Config{
		DB: *db, AdminKey: *adminKey, BaseURL: *baseURL, Log: log,
		Secret: env("INVITD_SECRET", ""), PreviousSecret: env("INVITD_SECRET_PREVIOUS", ""),
		Mail:         mail.Config{SMTPURL: *smtpURL, From: *from, TemplatesDir: *templates, Connections: *smtpConns},
		Jobs:         job.Config{Lease: *lease, PollInterval: *poll},
		Webhooks:     webhook.HandlerConfig{Timeout: *hookTimeout, Schedule: schedule},
		WebhookAllow: allowNets, EventRetention: *retention, ReminderInterval: *reminders,
		MetricsAddr: *metricsAddr, MetricsToken: *metricsToken,
		KeyRate: *keyRate, KeyBurst: *keyBurst, ConsoleIdle: *consoleIdle,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	// Listen first: a key printed by a start that then fails (the port is
	// taken) would be the only one, and no later start would show it.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	key, err := srv.Service.EnsureAdminKey(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	if key != "" {
		fmt.Fprintf(stderr, "\nCreated the first admin API key. It is shown only now; keep it (make another with invitd key create --admin):\n\n    %s\n\n", key)
	}
	log.Info("invitd listening", "addr", ln.Addr().String(), "db", redact(*db))
	if a := srv.MetricsAddr(); a != "" {
		log.Info("metrics listening", "addr", a)
	}
	err = srv.Serve(ctx, ln)
	log.Info("invitd stopped")
	return err
}

// publicURL is the address links in mail and on pages start with: the
// configured one, else one made from the listen address. The warning, when
// not empty, says why links may not work.
func publicURL(configured, addr string) (string, string) {
	if configured != "" {
		u, err := url.Parse(configured)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return configured, "INVITD_BASE_URL is not an absolute http(s) URL such as https://invite.example.com; links in mail will not work"
		}
		return configured, ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr, "INVITD_BASE_URL is not set and the listen address is not host:port; set INVITD_BASE_URL to the public address"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost" // every interface: the machine itself is one of them
	}
	return "http://" + net.JoinHostPort(host, port), "INVITD_BASE_URL is not set: links in mail lead to this address, which other machines may not reach; set it to the public address"
}

// healthcheck asks the serve listening on addr, on this machine, whether it
// is ready.
func healthcheck(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %s", res.Status)
	}
	return nil
}

// readableDurations writes durations in logs as 1.5s rather than nanoseconds.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// redact hides a password in a database URL.
func redact(db string) string {
	if u, err := url.Parse(db); err == nil && u.User != nil {
		return u.Redacted()
	}
	return db
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
