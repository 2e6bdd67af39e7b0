package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail/mailtest"
)

// benchProcess measures invitd as it is deployed, a process of its own:
// the binary's size, the time to ready and, with -footprint, its memory
// under the create and list load; with -soak, whether a long mixed load
// leaves anything growing.
func benchProcess(ctx context.Context, o options, dir string) error {
	bin := o.invitd
	if bin == "" {
		bin = filepath.Join(dir, "invitd")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/invitd/invitd/cmd/invitd")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building invitd: %w", err)
		}
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Printf("\ninvitd process %s: %.1f MiB\n", bin, mib(fi.Size()))
	report("binary_mib", mib(fi.Size()))
	ready := false
	start := func(name string, env ...string) (*process, error) {
		p, err := startProcess(ctx, bin, dir, name, env...)
		if err != nil {
			return nil, err
		}
		fmt.Printf("%-34s %9s  ready in %s\n", "(p) "+name+": start", "", p.ready.Round(100*time.Microsecond))
		if !ready { // the first start is the one on a cold page cache
			report("ready_ms", float64(p.ready.Microseconds())/1000)
			ready = true
		}
		return p, nil
	}
	if o.footprint {
		p, err := start("footprint")
		if err != nil {
			return err
		}
		err = footprint(o, p)
		if serr := p.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
	}
	if o.soak > 0 {
		smtp, err := mailtest.Listen("127.0.0.1:0", mailtest.Options{})
		if err != nil {
			return err
		}
		defer smtp.Close()
		p, err := start("soak", "INVITD_SMTP_URL="+smtp.URL())
		if err != nil {
			return err
		}
		err = soak(o, p, smtp)
		if serr := p.stop(); err == nil {
			err = serr
		}
		return err
	}
	return nil
}

// process is a running invitd serve.
type process struct {
	cmd   *exec.Cmd
	url   string
	ready time.Duration // from the start to the first 200 from /readyz
	// logErrors counts the lines it logged at level ERROR.
	logErrors atomic.Int64
	exited    chan struct{}
	err       error // how it exited, once exited is closed
}

// startProcess runs invitd serve on a fresh SQLite database in dir, on a
// port of its choosing, and waits until it is ready. env is laid over the
// bench's settings.
func startProcess(ctx context.Context, bin, dir, name string, env ...string) (*process, error) {
	cmd := exec.Command(bin, "serve")
	// The caller's INVITD_ settings would change what is measured; GOGC and
	// GOMEMLIMIT pass, to try them.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INVITD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"INVITD_DB=sqlite:"+filepath.Join(dir, name+".db"),
		"INVITD_ADDR=127.0.0.1:0",
		"INVITD_ADMIN_KEY="+adminKey,
		"INVITD_SECRET="+benchSecret,
		"INVITD_BASE_URL=http://bench",
		// The load is the point: no key's requests are limited.
		"INVITD_KEY_RATE=1e9",
		"INVITD_KEY_BURST="+strconv.Itoa(invite.MaxLimitSetting),
		"INVITD_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8", // the bench's receiver
	)
	cmd.Env = append(cmd.Env, env...)
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	// The log (at info, as deployed: a line per request) is read as it
	// comes, for the address the process listens on and the errors it logs.
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.Contains(line, []byte(`"msg":"invitd listening"`)) {
				var l struct{ Addr string }
				json.Unmarshal(line, &l)
				addr <- l.Addr
			}
			if bytes.Contains(line, []byte(`"level":"ERROR"`)) && p.logErrors.Add(1) <= 5 {
				fmt.Fprintf(os.Stderr, "invitd %s: %s\n", name, line)
			}
		}
		io.Copy(io.Discard, logs) // a line past the buffer: keep the pipe flowing
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.exited:
		return nil, fmt.Errorf("invitd serve exited: %v", p.err)
	case <-time.After(time.Minute):
		p.stop()
		return nil, errors.New("invitd serve did not start listening within a minute")
	}
	for {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				p.ready = time.Since(t0)
				return p, nil
			}
		}
		if time.Since(t0) > time.Minute {
			p.stop()
			return nil, errors.New("invitd serve not ready within a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop ends the process as a supervisor does, with SIGTERM, and waits for it.
func (p *process) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		return errors.New("invitd did not stop within 30 s of SIGTERM")
	}
}

// memory reads the process's resident set and its peak (VmRSS and VmHWM), in MiB.
func (p *process) memory() (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return rss, hwm, nil
}

// metrics scrapes the process's /metrics (it answers loopback clients),
// each metric summed over its labels.
func (p *process) metrics(c *http.Client) (map[string]float64, error) {
	res, err := c.Get(p.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value: label values (routes) hold spaces and braces.
		name := line[:strings.IndexAny(line, "{ ")]
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			m[name] += v
		}
	}
	return m, sc.Err()
}

// drain waits until no job is waiting (mail, webhook deliveries), at most limit.
func (p *process) drain(c *http.Client, limit time.Duration) error {
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		m, err := p.metrics(c)
		if err != nil {
			return err
		}
		if m["invitd_jobs_waiting"] == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%v jobs still waiting after %s", m["invitd_jobs_waiting"], limit)
		}
	}
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// newOrg makes an organization with the bench's settings and returns its path.
func newOrg(c *http.Client, url, name string) (string, error) {
	var org struct{ ID string }
	err := do(c, "POST", url+"/v1/organizations", adminKey, map[string]any{"name": name, "settings": orgSettings}, 201, &org)
	return "/v1/organizations/" + org.ID, err
}

// footprint runs the create and the list load against p, as throughput
// does in-process, sampling its resident set every 100 ms, then lets it
// idle and takes the resident set it settles at.
func footprint(o options, p *process) error {
	client := newClient(o.conc)
	var peak float64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for t := time.NewTicker(100 * time.Millisecond); ; {
			if rss, _, err := p.memory(); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return
			}
		}
	}()
	org, err := newOrg(client, p.url, "Footprint")
	if err != nil {
		return err
	}
	base := p.url + org + "/invitations"
	prefix := fmt.Sprintf("f%d", time.Now().UnixNano())
	load("(p) invitd process create", o.conc, o.d, func(_, i int) error {
		return do(client, "POST", base, adminKey, map[string]any{"email": fmt.Sprintf("%s-%d@example.com", prefix, i), "role": "member"}, 201, nil)
	})
	if err := p.drain(client, 2*time.Minute); err != nil { // the creates' mail, to the log
		return err
	}
	load("(p) invitd process list of 20", o.conc, o.d, func(_, _ int) error {
		return do(client, "GET", base+"?limit=20", adminKey, nil, 200, nil)
	})
	if err := p.drain(client, 2*time.Minute); err != nil {
		return err
	}
	client.CloseIdleConnections()
	time.Sleep(10 * time.Second)
	close(stop)
	<-sampled
	idle, hwm, err := p.memory()
	if err != nil {
		return err
	}
	peak = max(peak, hwm)
	fmt.Printf("%-34s %9s  peak %.1f MiB, idle %.1f MiB (10 s after the load, mail sent)\n", "(p) invitd process RSS", "", peak, idle)
	report("peak_rss_mib", peak)
	report("idle_rss_mib", idle)
	return nil
}

// Soak load: a steady, modest rate from a few clients, the mix of what
// an organization does in a day.
const (
	soakRate    = 200 // operations per second
	soakClients = 4
)

// soakSample is the process's state at one minute of the soak.
type soakSample struct {
	rss, heap, goroutines, fds, waiting float64 // heap: Go's heap in use, MiB
}

// soak runs the mixed load against p for o.soak: creates (with and without
// mail), lists, gets, accepts with the link's token, resends, the mail to
// smtp and every event to a webhook endpoint on a local receiver. Every
// minute it prints the process's resources; it fails if any operation
// failed or the process logged an error.
func soak(o options, p *process, smtp *mailtest.Server) error {
	client := newClient(soakClients)
	var hooks atomic.Int64
	recv, stopRecv, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		return err
	}
	defer stopRecv()
	org, err := newOrg(client, p.url, "Soak")
	if err != nil {
		return err
	}
	if err := do(client, "POST", p.url+org+"/webhooks", adminKey, map[string]any{"url": recv + "/hook"}, 201, nil); err != nil {
		return err
	}
	base := p.url + org + "/invitations"
	prefix := fmt.Sprintf("s%d", time.Now().UnixNano())

	// What the creates made, for the operations on existing invitations.
	type mailed struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var tokens []string  // pending, unmailed: to accept
	var resends []mailed // pending, mailed, oldest first: to resend once
	var recent []string  // ids of the latest creates: to get
	create := func(i int, sendEmail bool) error {
		var inv struct {
			ID        string
			AcceptURL string `json:"accept_url"`
		}
		body := map[string]any{"email": fmt.Sprintf("%s-%d@example.com", prefix, i), "role": "member", "send_email": sendEmail}
		if err := do(client, "POST", base, adminKey, body, 201, &inv); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if sendEmail {
			resends = append(resends, mailed{inv.ID, time.Now()})
		} else {
			_, token, _ := strings.Cut(inv.AcceptURL, "/i/")
			tokens = append(tokens, token)
		}
		if recent = append(recent, inv.ID); len(recent) > 1000 {
			recent = recent[1:]
		}
		return nil
	}
	get := func() error {
		mu.Lock()
		if len(recent) == 0 {
			mu.Unlock()
			return do(client, "GET", base+"?limit=20", adminKey, nil, 200, nil)
		}
		id := recent[rand.IntN(len(recent))]
		mu.Unlock()
		return do(client, "GET", base+"/"+id, adminKey, nil, 200, nil)
	}
	op := func(i int) error {
		switch i % 10 {
		case 0:
			return create(i, false)
		case 4:
			return create(i, true)
		case 1, 5, 8:
			return do(client, "GET", base+"?limit=20", adminKey, nil, 200, nil)
		case 3: // the invitee accepts with the link's token
			mu.Lock()
			if len(tokens) == 0 {
				mu.Unlock()
				return create(i, false)
			}
			token := tokens[len(tokens)-1]
			tokens = tokens[:len(tokens)-1]
			mu.Unlock()
			return do(client, "POST", p.url+"/v1/invitations/"+token+"/accept", "", map[string]any{"name": "Soak"}, 200, nil)
		case 7: // a mail sent more than a minute ago (an invitation's mails are that far apart)
			mu.Lock()
			if len(resends) == 0 || time.Since(resends[0].at) <= invite.ResendInterval+5*time.Second {
				mu.Unlock()
				return get()
			}
			id := resends[0].id
			resends = resends[1:]
			mu.Unlock()
			return do(client, "POST", base+"/"+id+"/resend", adminKey, nil, 200, nil)
		default:
			return get()
		}
	}

	var ops, errs, seq atomic.Int64
	start := time.Now()
	end := start.Add(o.soak)
	var wg sync.WaitGroup
	for range soakClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second * soakClients / soakRate) // a slow answer skips a tick: the rate stays modest
			defer t.Stop()
			for range t.C {
				if time.Now().After(end) {
					return
				}
				if err := op(int(seq.Add(1))); err != nil {
					if errs.Add(1) <= 5 {
						fmt.Fprintln(os.Stderr, "soak:", err)
					}
				}
				ops.Add(1)
			}
		}()
	}
	fmt.Printf("\nsoak: %s at %d operations/s from %d clients; the mail to an SMTP server, every event to a webhook endpoint\n", o.soak, soakRate, soakClients)
	fmt.Printf("%8s %8s %9s %10s %9s %12s %7s %10s %7s %9s\n", "elapsed", "RSS MiB", "heap MiB", "goroutines", "open fds", "jobs waiting", "errors", "operations", "mails", "webhooks")
	sample := func(at time.Duration) (soakSample, error) {
		m, err := p.metrics(client)
		if err != nil {
			return soakSample{}, err
		}
		rss, _, err := p.memory()
		if err != nil {
			return soakSample{}, err
		}
		s := soakSample{rss, m["go_memstats_heap_inuse_bytes"] / (1 << 20), m["go_goroutines"], m["process_open_fds"], m["invitd_jobs_waiting"]}
		fmt.Printf("%8s %8.1f %9.1f %10.0f %9.0f %12.0f %7d %10d %7d %9d\n", at.Round(time.Second), s.rss, s.heap, s.goroutines, s.fds, s.waiting,
			errs.Load()+p.logErrors.Load(), ops.Load(), len(smtp.Messages()), hooks.Load())
		return s, nil
	}
	var samples []soakSample
	for m := 1; ; m++ {
		at := min(time.Duration(m)*time.Minute, o.soak)
		time.Sleep(time.Until(start.Add(at)))
		s, err := sample(at)
		if err != nil {
			errs.Add(1)
			fmt.Fprintln(os.Stderr, "soak:", err)
		} else {
			samples = append(samples, s)
		}
		if at == o.soak {
			break
		}
	}
	wg.Wait()
	// What the load queued goes out; then nothing may be left waiting.
	if err := p.drain(client, 2*time.Minute); err != nil {
		errs.Add(1)
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
	if _, err := sample(time.Since(start)); err != nil {
		errs.Add(1)
	}
	fmt.Printf("%8s  (the outbox drained)\n", "")
	report("soak_ops", float64(ops.Load()))
	report("soak_errors", float64(errs.Load()+p.logErrors.Load()))
	if len(samples) > 0 {
		first, last := samples[0], samples[len(samples)-1]
		report("soak_rss_growth_mib", last.rss-first.rss)
		// SQLite's page caches fill as the database grows: the second half
		// shows whether the rise has levelled. (Go's heap in use is a saw
		// and is only printed.)
		report("soak_rss_growth_second_half_mib", last.rss-samples[len(samples)/2].rss)
		report("soak_goroutine_growth", last.goroutines-first.goroutines)
		report("soak_fd_growth", last.fds-first.fds)
	}
	if n := errs.Load(); n > 0 {
		return fmt.Errorf("soak: %d operations failed", n)
	}
	if n := p.logErrors.Load(); n > 0 {
		return fmt.Errorf("soak: invitd logged %d errors", n)
	}
	return nil
}
