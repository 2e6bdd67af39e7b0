// Package upsun serves the upsun compatibility surface.
package upsun

import (
	"net/http"

	"github.com/invitd/invitd/invite"
)

// New returns the surface's handler; paths are relative to its mount point.
func New(svc *invite.Service) http.Handler {
	_ = svc
	return http.NotFoundHandler()
}
