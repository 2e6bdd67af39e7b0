package invite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// ListParams are the native API's list parameters, as strings from the query.
type ListParams struct {
	State  string
	Email  string
	Role   string
	Sort   string // created_at, -created_at (default), updated_at, -updated_at
	Limit  int    // 1..100; 0 means 20
	Cursor string
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T
	NextCursor string // "" on the last page
}

// Paging limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// cursor is a self-contained keyset position, so any node can continue a list.
type cursor struct {
	Sort   string `json:"s"`
	Micros int64  `json:"t"`
	Number int64  `json:"n,omitempty"`
	ID     string `json:"i,omitempty"`
	Tx     int64  `json:"x,omitempty"` // an event position's transaction
}

// EncodeCursor makes an opaque cursor for the position p in the order named by sort.
func EncodeCursor(sort string, p Position) string {
	b, _ := json.Marshal(cursor{Sort: sort, Micros: p.Time.UnixMicro(), Number: p.Number})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor for the same sort.
func DecodeCursor(sort, s string) (*Position, error) {
	c, err := decodeCursor(s)
	if err != nil || c.Sort != sort || c.Number <= 0 {
		return nil, Invalid("cursor is not valid for this list")
	}
	return &Position{Time: time.UnixMicro(c.Micros).UTC(), Number: c.Number}, nil
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// PositionOf is inv's place in an order by field.
func PositionOf(inv *Invitation, field SortField) Position {
	if field == SortUpdatedAt {
		return Position{Time: inv.UpdatedAt, Number: inv.Number}
	}
	return Position{Time: inv.CreatedAt, Number: inv.Number}
}

// ParseSort reads created_at, -created_at, updated_at or -updated_at; "" is -created_at.
func ParseSort(s string) (SortField, bool, error) {
	switch s {
	case "", "-created_at":
		return SortCreatedAt, true, nil
	case "created_at":
		return SortCreatedAt, false, nil
	case "updated_at":
		return SortUpdatedAt, false, nil
	case "-updated_at":
		return SortUpdatedAt, true, nil
	}
	return "", false, Invalid("sort must be one of created_at, -created_at, updated_at, -updated_at")
}

// CheckLimit applies the default and range of a page size.
func CheckLimit(n int) (int, error) {
	if n == 0 {
		return DefaultLimit, nil
	}
	if n < 1 || n > MaxLimit {
		return 0, Invalid("limit must be between 1 and %d", MaxLimit)
	}
	return n, nil
}

// ListInvitations pages through org's invitations by keyset.
func (s *Service) ListInvitations(ctx context.Context, org OrgID, p ListParams) (*Page[*Invitation], error) {
	f, sortName, err := invitationFilter(p)
	if err != nil {
		return nil, err
	}
	f.Org = org
	return pageInvitations(f, sortName, func(f InvitationFilter) ([]*Invitation, error) { return s.FindInvitations(ctx, f) })
}

// ListInvitationsByAddress pages through one address's invitations in
// every organization, newest first by default, for an application that
// shows a person what awaits them. It takes an admin key.
func (s *Service) ListInvitationsByAddress(ctx context.Context, p ListParams) (*Page[*Invitation], error) {
	if err := requireAdmin(ctx); err != nil {
		if ErrorKind(err) == KindForbidden {
			return nil, errorf(KindForbidden, "only an admin key may list an address's invitations across organizations")
		}
		return nil, err
	}
	if p.Email == "" {
		return nil, Invalid("email is required")
	}
	if p.Role != "" {
		return nil, Invalid("role names an organization's role; filter by state or email here")
	}
	f, sortName, err := invitationFilter(p)
	if err != nil {
		return nil, err
	}
	if f.Sort != SortCreatedAt {
		return nil, Invalid("sort must be created_at or -created_at")
	}
	return pageInvitations(f, sortName, func(f InvitationFilter) ([]*Invitation, error) { return s.findInvitations(ctx, f, nil) })
}

// invitationFilter reads a list's parameters, and names its sort for cursors.
func invitationFilter(p ListParams) (InvitationFilter, string, error) {
	f := InvitationFilter{Role: p.Role}
	var err error
	if p.State != "" {
		st := State(p.State)
		if !st.Valid() {
			return f, "", Invalid("state must be one of pending, accepted, declined, cancelled, expired, error")
		}
		f.States = []State{st}
	}
	if p.Email != "" {
		if f.Email, err = NormalizeEmail(p.Email); err != nil {
			return f, "", err
		}
	}
	if f.Sort, f.Desc, err = ParseSort(p.Sort); err != nil {
		return f, "", err
	}
	sortName := p.Sort
	if sortName == "" {
		sortName = "-created_at"
	}
	if f.Limit, err = CheckLimit(p.Limit); err != nil {
		return f, "", err
	}
	if p.Cursor != "" {
		if f.After, err = DecodeCursor(sortName, p.Cursor); err != nil {
			return f, "", err
		}
	}
	return f, sortName, nil
}

// pageInvitations finds one page past f's position, and the cursor to the next.
func pageInvitations(f InvitationFilter, sortName string, find func(InvitationFilter) ([]*Invitation, error)) (*Page[*Invitation], error) {
	limit := f.Limit
	f.Limit++
	items, err := find(f)
	if err != nil {
		return nil, err
	}
	page := &Page[*Invitation]{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = EncodeCursor(sortName, PositionOf(items[limit-1], f.Sort))
	}
	return page, nil
}
