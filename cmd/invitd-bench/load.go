package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/server"
)

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

// errStop ends a load early: the op has done all it was to do.
var errStop = errors.New("done")

// waitIdle waits until the receiver has had nothing for a moment.
func waitIdle(got *atomic.Int64) {
	for last := int64(-1); got.Load() != last; time.Sleep(500 * time.Millisecond) {
		last = got.Load()
	}
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

// results are the figures the bench reports, in the order reported.
var results []struct {
	name  string
	value float64
}

// report keeps a figure for the summary printResults ends the bench with.
func report(name string, value float64) {
	results = append(results, struct {
		name  string
		value float64
	}{name, value})
}

// printResults prints every reported figure as "result <name> <value>", a
// line each, for scripts to read.
func printResults() {
	if len(results) > 0 {
		fmt.Println()
	}
	for _, r := range results {
		fmt.Printf("result %s %s\n", r.name, strconv.FormatFloat(math.Round(r.value*1000)/1000, 'f', -1, 64))
	}
}

// median is the middle of xs (the upper one of an even count); xs is sorted.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// percents lists xs as percentages, for a line that shows the spread.
func percents(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%.1f%%", 100*x)
	}
	return strings.Join(s, " ")
}
