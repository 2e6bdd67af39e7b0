package mail_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
)

// BenchmarkBurst2000 measures delivery of a burst of 2,000 invitations to a
// local SMTP server: from the runner's start until every job is done, over
// one connection and over the default two.
func BenchmarkBurst2000(b *testing.B) {
	for _, conns := range []int{1, 2} {
		b.Run(fmt.Sprintf("connections=%d", conns), func(b *testing.B) { benchBurst(b, conns) })
	}
}

func benchBurst(b *testing.B, connections int) {
	const burst = 2000
	srv := mailtest.Start(b, mailtest.Options{})
	var elapsed time.Duration
	conns := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// A burst is more than an hour's default quota.
		e := newEnv(b, nil, &invite.SettingsPatch{MaxInvitationsPerHour: new(invite.NoLimit)})
		for j := range burst {
			e.invite(fmt.Sprintf("bench%05d-%d@example.com", j, i), nil)
		}
		before, beforeConns := len(srv.Messages()), srv.Connections()
		cfg := fast(srv.URL())
		cfg.Connections = connections
		h, err := mail.NewHandler(e.svc, cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		r, err := job.New(e.svc, job.Config{PollInterval: 10 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		r.Register(h)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.StartTimer()
		start := time.Now()
		go func() { defer close(done); r.Run(ctx) }()
		// Counting the server's mails is cheap; the outbox's count reads
		// every job, and asked each millisecond would be half the work.
		for len(srv.Messages()) < before+burst {
			time.Sleep(time.Millisecond)
		}
		for !e.outboxEmpty() {
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		if got := len(srv.Messages()) - before; got != burst {
			b.Fatalf("%d mails arrived, want %d", got, burst)
		}
		conns += srv.Connections() - beforeConns
	}
	b.ReportMetric(float64(burst*b.N)/elapsed.Seconds(), "mails/s")
	b.ReportMetric(float64(conns)/float64(b.N), "conns/burst")
	b.ReportMetric(0, "ns/op")
}
