package mail_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/invitd/invitd/mail/mailtest"
)

// Mail queued before the runner starts (a restart after an outage) goes out
// one after another, not one per poll: the runner claims again as soon as an
// attempt frees its slot.
func TestABacklogIsSentWithoutWaitingForPolls(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	e := newEnv(t, nil, nil)
	const n = 20
	for i := range n {
		e.invite(fmt.Sprintf("backlog%02d@example.com", i), nil)
	}
	rc := e.runnerConfig()
	rc.PollInterval = time.Minute // nothing wakes the runner: no create follows
	e.startWith(fast(srv.URL()), rc)
	srv.Wait(t, n, 10*time.Second)
}
