package job

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitd/invitd/invite"
)

type metrics struct {
	results  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var outcomeNames = map[invite.Outcome]string{
	invite.Succeeded:   "succeeded",
	invite.Retrying:    "retried",
	invite.Failed:      "failed",
	invite.Rescheduled: "rescheduled",
	invite.Void:        "void",
}

func newMetrics(svc *invite.Service, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invitd_jobs_total", Help: "Job attempts run by this node, by kind and result.",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "invitd_job_duration_seconds", Help: "Time one job attempt took, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.results, m.duration, &queueCollector{svc: svc}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(kind string, o invite.Outcome, d time.Duration) {
	m.results.WithLabelValues(kind, outcomeNames[o]).Inc()
	m.duration.WithLabelValues(kind).Observe(d.Seconds())
}

var (
	waitingDesc = prometheus.NewDesc("invitd_jobs_waiting",
		"Queued jobs whose time has come, leased or not, by kind.", []string{"kind"}, nil)
	scheduledDesc = prometheus.NewDesc("invitd_jobs_scheduled",
		"Queued jobs whose time is still to come (expiries, retries), by kind.", []string{"kind"}, nil)
	oldestDesc = prometheus.NewDesc("invitd_jobs_oldest_waiting_seconds",
		"How long the longest-waiting due job of a kind has waited; 0 when none waits.", []string{"kind"}, nil)
)

// queueCollector reads the outbox from the store at each scrape, so every
// node reports the shared queue, not only its own share.
type queueCollector struct{ svc *invite.Service }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- waitingDesc
	ch <- scheduledDesc
	ch <- oldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, now, err := c.svc.JobStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(waitingDesc, err)
		return
	}
	for _, s := range stats {
		age := 0.0
		if s.OldestDue != nil {
			age = max(now.Sub(*s.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(s.Due), s.Kind)
		ch <- prometheus.MustNewConstMetric(scheduledDesc, prometheus.GaugeValue, float64(s.Scheduled), s.Kind)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, s.Kind)
	}
}
