package invite

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MemberParams are the member list's parameters.
type MemberParams struct {
	Email  string
	Role   string
	Limit  int
	Cursor string
	Offset int
}

// ListMembers pages through org's members in the order they joined.
func (s *Service) ListMembers(ctx context.Context, org OrgID, p MemberParams) (*Page[*Member], error) {
	if err := authorize(ctx, org, ScopeMembersRead); err != nil {
		return nil, err
	}
	f := MemberFilter{Org: org, Role: p.Role, Offset: p.Offset}
	var err error
	if p.Email != "" {
		if f.Email, err = NormalizeEmail(p.Email); err != nil {
			return nil, err
		}
	}
	if f.Limit, err = CheckLimit(p.Limit); err != nil {
		return nil, err
	}
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, Invalid("cursor is not valid for this list")
		}
		id, perr := uuid.Parse(c.ID)
		if perr != nil || c.Sort != "members" {
			return nil, Invalid("cursor is not valid for this list")
		}
		f.After = &MemberPosition{Time: time.UnixMicro(c.Micros).UTC(), ID: id}
	}
	limit := f.Limit
	f.Limit++
	var items []*Member
	err = s.store.Read(ctx, func(tx Tx) error {
		if _, err := s.getOrg(ctx, tx, org); err != nil {
			return err
		}
		var err error
		items, err = tx.ListMembers(ctx, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &Page[*Member]{Items: items}
	if len(items) > limit {
		last := items[limit-1]
		page.Items = items[:limit]
		b, _ := json.Marshal(cursor{Sort: "members", Micros: last.CreatedAt.UnixMicro(), ID: last.ID.String()})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}

func (s *Service) getMember(ctx context.Context, tx Tx, org OrgID, id uuid.UUID) (*Member, error) {
	m, err := tx.GetMember(ctx, org, id)
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("member %s not found", id)
	}
	return m, err
}

// GetMember returns one member of org.
func (s *Service) GetMember(ctx context.Context, org OrgID, id uuid.UUID) (*Member, error) {
	if err := authorize(ctx, org, ScopeMembersRead); err != nil {
		return nil, err
	}
	var m *Member
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		m, err = s.getMember(ctx, tx, org, id)
		return err
	})
	return m, err
}

// MemberPatch changes some of a member's fields; nil fields stay.
type MemberPatch struct {
	Name        *string
	Role        *string
	Permissions *[]string
	// Metadata replaces the member's metadata (a JSON object, as an
	// invitation's).
	Metadata json.RawMessage
}

// UpdateMember changes a member's name, role, permissions or metadata. A patch that
// leaves them as they are writes nothing and records no event: it answers
// the member as it is.
func (s *Service) UpdateMember(ctx context.Context, org OrgID, id uuid.UUID, p MemberPatch) (*Member, error) {
	if err := authorize(ctx, org, ScopeMembersWrite); err != nil {
		return nil, err
	}
	var m *Member
	err := s.write(ctx, func(c *change) error {
		tx := c.tx
		o, err := s.getOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		if m, err = s.getMember(ctx, tx, org, id); err != nil {
			return err
		}
		name := m.Name
		if p.Name != nil {
			name = strings.TrimSpace(*p.Name)
			if err := CheckText("name", name, MaxNameLen); err != nil {
				return err
			}
		}
		role, perms := m.Role, m.Permissions
		if p.Role != nil {
			if role = strings.TrimSpace(*p.Role); role == "" {
				return Invalid("role must not be empty")
			}
		}
		if p.Permissions != nil {
			perms = *p.Permissions
		}
		if role, perms, err = o.checkGrant(role, perms); err != nil {
			return err
		}
		metadata := m.Metadata
		if p.Metadata != nil {
			if metadata, err = CheckMetadata(p.Metadata); err != nil {
				return err
			}
		}
		if name == m.Name && role == m.Role && slices.Equal(perms, m.Permissions) && bytes.Equal(metadata, m.Metadata) {
			return nil
		}
		m.Name, m.Role, m.Permissions, m.Metadata, m.UpdatedAt = name, role, perms, metadata, c.now
		if err := tx.UpdateMember(ctx, m); err != nil {
			return err
		}
		c.emit(org, EventMemberUpdated, m.ID.String(), ViewMember(m))
		return nil
	})
	return m, err
}

// DeleteMember removes a member from org.
func (s *Service) DeleteMember(ctx context.Context, org OrgID, id uuid.UUID) error {
	if err := authorize(ctx, org, ScopeMembersWrite); err != nil {
		return err
	}
	return s.write(ctx, func(c *change) error {
		m, err := s.getMember(ctx, c.tx, org, id)
		if err != nil {
			return err
		}
		if err := c.tx.DeleteMember(ctx, org, id); err != nil {
			return err
		}
		c.emit(org, EventMemberDeleted, m.ID.String(), ViewMember(m))
		return nil
	})
}
