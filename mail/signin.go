package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/invitd/invitd/invite"
	"github.com/invitd/invitd/job"
)

// The sign-in mail's texts, one file per language: the subject on the
// first line, the body after it.
//
//go:embed signin
var signInFiles embed.FS

var signInTemplates = func() map[string]*texttemplate.Template {
	out := map[string]*texttemplate.Template{}
	for _, loc := range []string{"en", "ja"} {
		out[loc] = texttemplate.Must(texttemplate.New(loc).Option("missingkey=error").ParseFS(signInFiles, "signin/"+loc+".txt")).Lookup(loc + ".txt")
	}
	return out
}()

// signInData is what a sign-in mail's template sees.
type signInData struct {
	OrgName, Name, Email, Link, Expires string
}

// SignInHandler sends send_signin_link jobs' mail: the console's one-time
// sign-in links. It has its own connection, so a sign-in never waits
// behind a queue of invitations.
type SignInHandler struct {
	h      *Handler
	sender sender
}

// SignIn returns the handler of sign-in mail, configured as h is.
func (h *Handler) SignIn() (*SignInHandler, error) {
	s, err := h.newSender()
	if err != nil {
		return nil, err
	}
	return &SignInHandler{h: h, sender: s}, nil
}

// Kind is the job kind the handler does.
func (s *SignInHandler) Kind() string { return invite.JobSendSignInLink }

// Policy retries a sign-in mail only while its link works.
func (s *SignInHandler) Policy() job.Policy {
	return job.Policy{
		MaxAttempts: 4,
		Backoff:     func(n int) time.Duration { return job.Backoff(n, s.h.cfg.MinBackoff, invite.SignInLinkTTL/4) },
		Concurrency: 1,
		Timeout:     2 * SMTPTimeout,
	}
}

// Idle closes a connection kept open too long without mail.
func (s *SignInHandler) Idle() { s.sender.idle() }

// Close ends the SMTP connection.
func (s *SignInHandler) Close() error { return s.sender.close() }

// Work sends one sign-in mail.
func (s *SignInHandler) Work(ctx context.Context, j *invite.Job) (job.Attempt, error) {
	m, err := s.h.svc.SignInMailFor(ctx, j)
	if err != nil {
		return job.Attempt{}, loadError(err, "the sign-in link was used, has expired or its member is gone", "sign-in job", "sign-in link")
	}
	out, err := s.h.composeSignIn(m)
	if err == nil {
		err = s.h.deliver(ctx, s.sender, out)
	}
	if err != nil {
		return job.Attempt{}, err
	}
	if !s.h.logged {
		s.h.log.Info("console sign-in mail sent", "job", j.ID, "organization", m.Organization.ID, "to", m.Link.Email)
	}
	return job.Attempt{}, nil
}

// SignInLink is the console's sign-in address for token under baseURL.
func SignInLink(baseURL, token string) string {
	return strings.TrimRight(baseURL, "/") + "/console/signin/" + token
}

// composeSignIn renders a sign-in mail, in the organization's language.
func (h *Handler) composeSignIn(m *invite.SignInMail) (*outgoing, error) {
	loc := h.templates.Pick(m.Organization.Settings.Locale)
	t := signInTemplates[loc]
	if t == nil {
		loc, t = DefaultLocale, signInTemplates[DefaultLocale]
	}
	name := m.Member.Name
	if name == "" {
		name = m.Member.Email
	}
	link := SignInLink(h.cfg.BaseURL, m.Token)
	var b bytes.Buffer
	err := t.Execute(&b, signInData{OrgName: m.Organization.DisplayName(), Name: name, Email: m.Link.Email,
		Link: link, Expires: FormatTime(loc, m.Link.ExpiresAt)})
	if err != nil {
		return nil, err
	}
	subject, body, _ := strings.Cut(b.String(), "\n")
	subject = oneLine(subject)
	msg := gomail.NewMsg()
	if err := msg.From(h.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(m.Link.Email); err != nil {
		return nil, job.Permanent(&badRecipient{addr: m.Link.Email, err: err})
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(rand.Text() + "@" + h.domain)
	msg.SetDate()
	msg.SetGenHeader(gomail.HeaderContentLang, loc)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, body)
	return &outgoing{locale: loc, to: m.Link.Email, subject: subject, link: link, msg: msg}, nil
}
