package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/invitd/invitd/invite"
)

// Check is CheckURL in the core's terms, for invite.Config.CheckWebhookURL:
// a refused URL is the caller's to fix (invalid); a lookup that failed may
// succeed later (unavailable, with a time to retry after).
func (g *Guard) Check(ctx context.Context, raw string) error {
	err := g.CheckURL(ctx, raw)
	var refused *RefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		return invite.Invalid("%v", err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return invite.Unavailable(30*time.Second, "the webhook URL's host could not be looked up now (%v); try again", err)
}
