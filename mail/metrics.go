package mail

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sent        prometheus.Counter
	sendSeconds prometheus.Histogram
}

// newMetrics makes the mail-specific metrics; attempts, retries and give-ups
// are the job runner's (invitd_jobs_total{kind="send_invitation"}).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitd_mail_sent_total", Help: "Invitation mails handed to the mail server (or to the log when none is configured).",
		}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "invitd_mail_send_duration_seconds", Help: "Time to hand one invitation mail to the mail server.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.sendSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
