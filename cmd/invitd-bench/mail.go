package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/mail"
	"github.com/invitd/invitd/mail/mailtest"
	"github.com/invitd/invitd/server"
)

// benchMail creates o.mail invitations from o.conc clients on a node of its
// own, on a fresh SQLite database, whose mail goes to an SMTP server in the
// bench, and measures mails per second from the first create to the last
// mail the server received.
func benchMail(ctx context.Context, o options, dir string) error {
	n := o.mail
	smtpSrv, err := mailtest.Listen("127.0.0.1:0", mailtest.Options{})
	if err != nil {
		return err
	}
	defer smtpSrv.Close()
	db := "sqlite:" + filepath.Join(dir, "mail.db") + "?synchronous=" + o.sync
	srv, url, stop, err := startNode(ctx, db, server.Config{Mail: mail.Config{SMTPURL: smtpSrv.URL()}})
	if err != nil {
		return err
	}
	defer srv.Close()
	defer stop()
	client := newClient(o.conc)
	var org struct{ ID string }
	if err := do(client, "POST", url+"/v1/organizations", adminKey, map[string]any{"name": "Bench mail", "settings": orgSettings}, 201, &org); err != nil {
		return err
	}
	path := url + "/v1/organizations/" + org.ID + "/invitations"

	fmt.Printf("\nmail of %d invitations to an SMTP server in the bench (SQLite, synchronous=%s):\n", n, o.sync)
	start, cpu0 := time.Now(), cpuTime()
	created := load("(c) create, mail to SMTP", o.conc, 30*time.Minute, func(_, i int) error {
		if i > n {
			return errStop
		}
		return do(client, "POST", path, adminKey, map[string]any{"email": fmt.Sprintf("mail-%d@example.com", i), "role": "member"}, 201, nil)
	})
	if created.n != n {
		return fmt.Errorf("mail: %d of %d creates succeeded", created.n, n)
	}
	// The last mail's arrival is seen within a millisecond of it.
	var last time.Time
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if len(smtpSrv.Messages()) >= n {
			last = time.Now()
			break
		}
	}
	cpu := cpuTime() - cpu0
	if last.IsZero() {
		return fmt.Errorf("mail: %d of %d mails arrived in 10 minutes", len(smtpSrv.Messages()), n)
	}
	// A mail sent twice would arrive after the others: wait for the outbox
	// to settle before counting.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && due(ctx, srv.Service, invite.JobSendInvitation) > 0; {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	msgs := smtpSrv.Messages()
	to := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if len(m.To) != 1 || to[m.To[0]] {
			return fmt.Errorf("mail: a mail to %v arrived twice or to several recipients", m.To)
		}
		to[m.To[0]] = true
	}
	if len(msgs) != n {
		return fmt.Errorf("mail: %d mails arrived, want %d", len(msgs), n)
	}
	elapsed := last.Sub(start)
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("%-34s %9.0f mails/s  cpu/mail %6s  (%d mails in %s over %d connection(s))\n", "(c) mail from create to SMTP", rate,
		(cpu / time.Duration(n)).Round(time.Microsecond), n, elapsed.Round(time.Millisecond), smtpSrv.Connections())
	report("mails_per_s", rate)
	return nil
}
