package invite

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/invitd/invitd/ratelimit"
)

// Bounds of a bulk create.
const (
	MaxBulkRows  = 1000
	MaxBulkBytes = 1 << 20
)

// BulkRow is one row of a bulk create: the create it asks for, or, when a
// surface could not read the row (a CSV cell that is not a number), why.
type BulkRow struct {
	Create CreateInvitation
	Err    error
}

// The statuses of a bulk row.
const (
	BulkCreated = "created"
	BulkSkipped = "skipped"
	BulkError   = "error"
)

// BulkOptions say how a bulk create runs.
type BulkOptions struct {
	// DryRun checks every row and writes nothing.
	DryRun bool
	// IdempotencyKey, with IdempotencyScope naming the caller, makes a
	// retried bulk create give the first answer.
	IdempotencyKey   string
	IdempotencyScope string
}

// Bulk is the answer to a bulk create.
type Bulk struct {
	View *BulkView
	// Tokens are the links of the rows created without mail, by row index,
	// for the caller to deliver; none in a dry run or a replay (a link is
	// given once, and the stored answer holds none).
	Tokens map[int]string
	// Replayed: an earlier request with the same idempotency key made it.
	Replayed bool
}

// errDryRun undoes a dry run's change once every row is decided.
var errDryRun = errors.New("dry run")

// BulkCreate invites every row's address into org in one transaction, each
// row held to the same rules as a single create. A row that cannot be
// invited is an error row and does not stop the others; a row repeating an
// earlier row's address is skipped. Either way it writes nothing of its
// own.
func (s *Service) BulkCreate(ctx context.Context, org OrgID, rows []BulkRow, opts BulkOptions) (*Bulk, error) {
	if err := authorize(ctx, org, ScopeInvitationsWrite); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, Invalid("invitations must hold at least one row")
	}
	if len(rows) > MaxBulkRows {
		return nil, Invalid("a bulk create takes at most %d rows; this one has %d", MaxBulkRows, len(rows))
	}
	if len(opts.IdempotencyKey) > 255 {
		return nil, Invalid("Idempotency-Key is longer than 255 characters")
	}
	rows = slices.Clone(rows)
	for i := range rows {
		if rows[i].Err == nil {
			rows[i].Err = rows[i].Create.normalize()
		}
		rows[i].Create.IdempotencyKey, rows[i].Create.IdempotencyScope = "", ""
	}
	var reqHash []byte
	scope := "bulk|" + opts.IdempotencyScope + "|" + org.String()
	if opts.IdempotencyKey != "" && !opts.DryRun {
		reqHash = bulkHash(rows)
	}
	var out *Bulk
	err := s.write(ctx, func(ch *change) error {
		if reqHash != nil {
			var err error
			if out, err = bulkReplay(ch.ctx, ch.tx, scope, opts.IdempotencyKey, reqHash, ch.now); out != nil || err != nil {
				return err
			}
			if err := ch.tx.DeleteIdempotencyBefore(ctx, ch.now.Add(-IdempotencyTTL)); err != nil {
				return err
			}
		}
		v, tokens, err := s.bulkCreate(ch, org, rows)
		if err != nil {
			return err
		}
		v.DryRun = opts.DryRun
		out = &Bulk{View: v}
		if opts.DryRun {
			return errDryRun
		}
		out.Tokens = tokens
		if reqHash == nil {
			return nil
		}
		return ch.tx.PutIdempotency(ctx, &IdempotencyRecord{Scope: scope, Key: opts.IdempotencyKey,
			RequestHash: reqHash, InvitationID: uuid.Nil, CreatedAt: ch.now, Answer: marshal(v)})
	})
	if errors.Is(err, ErrDuplicateIdempotencyKey) {
		// A concurrent request with the same key won; answer as it did.
		var replay *Bulk
		rerr := s.store.Read(ctx, func(tx Tx) error {
			var err error
			replay, err = bulkReplay(ctx, tx, scope, opts.IdempotencyKey, reqHash, s.Now())
			return err
		})
		if rerr != nil || replay != nil {
			return replay, rerr
		}
	}
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if errors.Is(err, ErrDuplicateIdempotencyKey) {
		return nil, Conflict("a request with this Idempotency-Key is in progress")
	}
	if errors.Is(err, ErrDuplicatePending) || errors.Is(err, ErrDuplicateMember) {
		return nil, Conflict("an address of this request was invited or became a member while it ran; nothing was created, try again")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// bulkReplay is the answer stored for a bulk create's idempotency key, nil
// if none is.
func bulkReplay(ctx context.Context, tx Tx, scope, key string, hash []byte, now time.Time) (*Bulk, error) {
	rec, err := tx.GetIdempotency(ctx, scope, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil || rec.CreatedAt.Before(now.Add(-IdempotencyTTL)) {
		return nil, err
	}
	if string(rec.RequestHash) != string(hash) {
		return nil, Invalid("Idempotency-Key %q was already used with a different request", key)
	}
	var v BulkView
	if err := json.Unmarshal(rec.Answer, &v); err != nil {
		return nil, err
	}
	return &Bulk{View: &v, Replayed: true}, nil
}

// bulkHash is what a bulk create's Idempotency-Key is bound to.
func bulkHash(rows []BulkRow) []byte {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, r := range rows {
		_ = enc.Encode(r.Create)
		if r.Err != nil {
			_ = enc.Encode(r.Err.Error())
		}
	}
	return h.Sum(nil)
}

// bulkCounts are what a bulk create reads once, with its locks, before
// any row: the organization's counts, moved by each row created, and the
// rows' addresses' members, pending invitations and mails.
type bulkCounts struct {
	seats   *Seats
	pending int // with max_pending
	created *windowCount

	members  map[string]bool
	invites  map[string]*Invitation // the stored pending one, by address
	mails    map[string]MailCount
	mailRule *ratelimit.Policy
}

func (s *Service) bulkCreate(ch *change, org OrgID, rows []BulkRow) (*BulkView, map[int]string, error) {
	o, err := s.getOrg(ch.ctx, ch.tx, org)
	if err != nil {
		return nil, nil, err
	}
	v := &BulkView{Results: make([]BulkResultView, len(rows))}
	first := map[string]int{} // the row each address is first on
	var emails, mailed []string
	for i, row := range rows {
		r := &v.Results[i]
		r.Index, r.Email = i, row.Create.Email
		if row.Err != nil {
			r.fail(row.Err)
			continue
		}
		if f, dup := first[row.Create.Email]; dup {
			r.Status = BulkSkipped
			r.Error = &BulkErrorView{Status: 409, Detail: "skipped: the address repeats row " + strconv.Itoa(f) + " of this request"}
			continue
		}
		first[row.Create.Email] = i
		emails = append(emails, row.Create.Email)
		if !row.Create.NoEmail {
			mailed = append(mailed, row.Create.Email)
		}
	}
	n, err := s.bulkRead(ch, o, emails, mailed)
	if err != nil {
		return nil, nil, err
	}
	tokens := map[int]string{}
	for i, row := range rows {
		r := &v.Results[i]
		if r.Status != "" {
			continue
		}
		inv, err := s.bulkRow(ch, o, row.Create, n)
		if err != nil {
			if ErrorKind(err) == KindInternal {
				return nil, nil, err // the store failed: the bulk as a whole
			}
			r.fail(err)
			continue
		}
		r.Status, r.Invitation = BulkCreated, ViewInvitation(inv)
		if inv.SendCount == 0 {
			tokens[i] = s.linkOf(inv)
		}
	}
	for _, r := range v.Results {
		switch r.Status {
		case BulkCreated:
			v.Created++
		case BulkSkipped:
			v.Skipped++
		default:
			v.Errors++
		}
	}
	return v, tokens, nil
}

// bulkRead reads what every row is decided on, taking the locks in the
// order a single create, a resend and an accept take theirs: the
// addresses' mail counts, then the pending invitations the rows meet, then
// the organization's counts (on PostgreSQL held until the commit, so the
// organization's other creates wait for the bulk at their last step). A
// create without mail of an address the bulk also inserts takes no mail
// lock and can still meet it head on: a deadlock the database breaks and
// the store retries.
func (s *Service) bulkRead(ch *change, o *Organization, emails, mailed []string) (*bulkCounts, error) {
	ctx, tx := ch.ctx, ch.tx
	n := &bulkCounts{members: map[string]bool{}, invites: map[string]*Invitation{}}
	var err error
	if len(emails) > 0 {
		if policy, ok := mailPolicy(o); ok && len(mailed) > 0 {
			n.mailRule = &policy
			if n.mails, err = tx.CountMailsEach(ctx, o.ID, mailed, ch.now.Add(-MailWindow), policy.Quota); err != nil {
				return nil, err
			}
		}
		pending, err := tx.GetPendingInvitations(ctx, o.ID, emails, true)
		if err != nil {
			return nil, err
		}
		for _, inv := range pending {
			n.invites[inv.Email] = inv
		}
		members, err := tx.GetMembersByEmail(ctx, o.ID, emails)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			n.members[m.Email] = true
		}
	}
	if o.Settings.MaxMembers > 0 {
		seats, err := s.countSeats(ch, o)
		if err != nil {
			return nil, err
		}
		n.seats = &seats
	}
	if o.Settings.MaxPending > 0 {
		if n.pending, err = tx.CountInvitations(ctx, InvitationFilter{Org: o.ID, States: []State{StatePending}, Now: ch.now}); err != nil {
			return nil, err
		}
	}
	if n.created, err = s.countCreated(ch, o, 0); err != nil {
		return nil, err
	}
	return n, nil
}

// bulkRow creates one row's invitation, every rule decided before its
// first write so that a refused row leaves nothing of its own behind (a
// pending invitation it meets past its expiry is recorded as expired
// first, which is true whatever becomes of the row).
func (s *Service) bulkRow(ch *change, o *Organization, c CreateInvitation, n *bulkCounts) (*Invitation, error) {
	ctx, tx, now := ch.ctx, ch.tx, ch.now
	role, perms, err := o.prepare(&c)
	if err != nil {
		return nil, err
	}
	if n.members[c.Email] {
		return nil, Conflict("%s is already a member of this organization", c.Email)
	}
	old := n.invites[c.Email]
	if old != nil {
		if expired, err := s.settleExpiry(ch, old); err != nil {
			return nil, err
		} else if expired {
			old = nil
		} else if !c.Force {
			return nil, Conflict("a pending invitation for %s already exists (id %s)", c.Email, old.ID)
		}
	}
	if n.mailRule != nil && !c.NoEmail {
		m := n.mails[c.Email]
		w := &windowCount{policy: *n.mailRule, n: m.N, oldest: m.Oldest}
		if err := w.refuseMail(now, c.Email); err != nil {
			return nil, err
		}
	}
	freed := 0 // a forced create cancels the pending one it replaces
	if old != nil {
		freed = 1
	}
	if n.seats != nil {
		seats := *n.seats
		seats.Pending += 1 - freed
		if err := refuseSeat(seats); err != nil {
			return nil, err
		}
	}
	if max := o.Settings.MaxPending; max > 0 && n.pending+1-freed > max {
		return nil, Conflict("the organization has reached its limit of %d pending invitations", max)
	}
	if err := n.created.refuseInvitation(now); err != nil {
		return nil, err
	}
	if old != nil {
		if err := s.finish(ch, old, ActionCancel); err != nil {
			return nil, err
		}
	}
	inv := newInvitation(o, &c, role, perms, now)
	if err := tx.CreateInvitation(ctx, inv); err != nil {
		if old == nil && (errors.Is(err, ErrDuplicatePending) || errors.Is(err, ErrDuplicateMember)) {
			// Made by a write that committed after this one looked.
			return nil, Conflict("%s was invited or became a member while this request ran", c.Email)
		}
		return nil, err
	}
	if err := s.queueNew(ch, inv); err != nil {
		return nil, err
	}
	if n.seats != nil {
		n.seats.Pending += 1 - freed
	}
	n.pending += 1 - freed
	if n.created != nil {
		n.created.n++
	}
	return inv, nil
}
