// Package mail delivers invitation mail from the outbox.
package mail

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
)

// Config says where and how mail goes.
type Config struct {
	// SMTPURL is smtp://user:pass@host:port; empty writes each mail to the log.
	SMTPURL      string
	From         string
	BaseURL      string // links are BaseURL/i/<token>
	TemplatesDir string // overrides the embedded templates when set
}

// Worker claims mail jobs from the outbox and sends them.
type Worker struct {
	svc  *invite.Service
	cfg  Config
	log  *slog.Logger
	id   string
	wake chan struct{}
}

// NewWorker returns a worker; reg receives its metrics.
func NewWorker(svc *invite.Service, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Worker, error) {
	host, _ := os.Hostname()
	return &Worker{svc: svc, cfg: cfg, log: log, wake: make(chan struct{}, 1),
		id: host + "-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+rand.IntN(26)))}, nil
}

// Wake makes the worker look at the outbox now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for w.runOnce(ctx) > 0 {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

func (w *Worker) runOnce(ctx context.Context) int {
	jobs, err := w.svc.ClaimJobs(ctx, w.id, 50, time.Minute)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("outbox claim failed", "err", err)
		}
		return 0
	}
	for _, j := range jobs {
		m, err := w.svc.MailFor(ctx, j)
		if err == nil {
			w.log.Info("invitation mail", "to", m.Invitation.Email,
				"subject", "You are invited to join "+m.Organization.Name,
				"link", strings.TrimRight(w.cfg.BaseURL, "/")+"/i/"+m.Token)
		}
		if err := w.svc.JobDone(ctx, j); err != nil && !errors.Is(err, invite.ErrNotFound) {
			w.log.Error("outbox job done failed", "err", err)
		}
	}
	return len(jobs)
}
