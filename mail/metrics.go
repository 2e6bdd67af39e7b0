package mail

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
)

type metrics struct {
	sent, retried, failed prometheus.Counter
	sendSeconds           prometheus.Histogram
}

func newMetrics(svc *invite.Service, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitd_mail_sent_total", Help: "Invitation mails handed to the mail server (or to the log when none is configured).",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitd_mail_retried_total", Help: "Invitation mail attempts that failed and were scheduled again.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitd_mail_failed_total", Help: "Invitation mails given up on; their invitations moved to error.",
		}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "invitd_mail_send_duration_seconds", Help: "Time to hand one invitation mail to the mail server.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.retried, m.failed, m.sendSeconds, &outboxCollector{svc: svc}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var (
	outboxDepthDesc = prometheus.NewDesc("invitd_outbox_jobs",
		"Jobs waiting in the outbox, leased or not.", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("invitd_outbox_oldest_job_age_seconds",
		"Age of the oldest job in the outbox; 0 when it is empty.", nil, nil)
)

// outboxCollector reads the outbox from the store at each scrape, so every
// process reports the shared outbox, not only its own share.
type outboxCollector struct{ svc *invite.Service }

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, age, err := c.svc.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxDepthDesc, err)
		ch <- prometheus.NewInvalidMetric(outboxAgeDesc, err)
		return
	}
	if age < 0 {
		age = 0
	}
	ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age.Seconds())
}
