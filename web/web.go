// Package web serves the invitee's pages under /i/.
package web

import (
	"log/slog"
	"net/http"

	"github.com/invitd/invitd/invite"
)

// New returns the handler for /i/{token} pages.
func New(svc *invite.Service, log *slog.Logger) http.Handler {
	_, _ = svc, log
	return http.NotFoundHandler()
}
