package invite

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The policies an organization sets on its invitations: seats, the
// domains it invites, where an invitee goes after answering, its brand and
// its reminders. Every create, bulk row, resend and accept is held to them
// in the core.

// Bounds of the policy settings.
const (
	MaxDomainRules    = 100
	MaxRedirectOrigin = 20
	MaxURLLen         = 2048
	MaxDisplayNameLen = 100
	// MinReminderAfter is the earliest a reminder may be set to go out.
	MinReminderAfter = time.Minute
	// ReminderMargin: an invitation that expires within it gets no reminder.
	ReminderMargin = time.Hour
)

func (p *SettingsPatch) applyPolicies(st *Settings) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	if p.MaxMembers != nil {
		st.MaxMembers = *p.MaxMembers
	}
	setList(&st.AllowedEmailDomains, p.AllowedEmailDomains)
	setList(&st.BlockedEmailDomains, p.BlockedEmailDomains)
	setList(&st.AllowedRedirectOrigins, p.AllowedRedirectOrigins)
	set(&st.DefaultRedirectURL, p.DefaultRedirectURL)
	set(&st.DisplayName, p.DisplayName)
	set(&st.LogoURL, p.LogoURL)
	set(&st.BrandColor, p.BrandColor)
	set(&st.SupportEmail, p.SupportEmail)
	if p.ReminderAfter != nil {
		st.ReminderAfter = *p.ReminderAfter
	}
}

var (
	domainLabelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	brandColorRe  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// checkPolicies validates the policy settings and puts domains and origins
// in their one written form.
func (s *Settings) checkPolicies() error {
	if s.MaxMembers < 0 || s.MaxMembers > MaxLimitSetting {
		return Invalid("max_members must be 0 (no limit) or up to %d", MaxLimitSetting)
	}
	var err error
	if s.AllowedEmailDomains, err = checkDomainRules("allowed_email_domains", s.AllowedEmailDomains); err != nil {
		return err
	}
	if s.BlockedEmailDomains, err = checkDomainRules("blocked_email_domains", s.BlockedEmailDomains); err != nil {
		return err
	}
	if len(s.AllowedRedirectOrigins) > MaxRedirectOrigin {
		return Invalid("allowed_redirect_origins must list at most %d origins", MaxRedirectOrigin)
	}
	origins := make([]string, 0, len(s.AllowedRedirectOrigins))
	for _, o := range s.AllowedRedirectOrigins {
		n, err := checkOrigin(o)
		if err != nil {
			return err
		}
		if !slices.Contains(origins, n) {
			origins = append(origins, n)
		}
	}
	s.AllowedRedirectOrigins = nilIfEmpty(origins)
	if s.DefaultRedirectURL != "" {
		if s.DefaultRedirectURL, err = s.checkRedirect("default_redirect_url", s.DefaultRedirectURL); err != nil {
			return err
		}
	}
	if err := CheckText("display_name", s.DisplayName, MaxDisplayNameLen); err != nil {
		return err
	}
	if s.LogoURL != "" {
		u, err := url.Parse(s.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(s.LogoURL) > MaxURLLen {
			return Invalid("logo_url must be an https URL of at most %d characters", MaxURLLen)
		}
	}
	if s.BrandColor != "" {
		if !brandColorRe.MatchString(s.BrandColor) {
			return Invalid("brand_color %q must be a colour written #RRGGBB", s.BrandColor)
		}
		s.BrandColor = strings.ToLower(s.BrandColor)
	}
	if s.SupportEmail != "" {
		if s.SupportEmail, err = NormalizeEmail(s.SupportEmail); err != nil {
			return Invalid("support_email: %s", err.(*Error).Message)
		}
	}
	if s.ReminderAfter != 0 && (s.ReminderAfter < int64(MinReminderAfter.Seconds()) || s.ReminderAfter > int64(MaxTTL.Seconds())) {
		return Invalid("reminder_after must be 0 (no reminders) or between %d and %d seconds",
			int64(MinReminderAfter.Seconds()), int64(MaxTTL.Seconds()))
	}
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// checkDomainRules checks a list of domain rules, example.com or
// *.example.com, lowercased, without repeats.
func checkDomainRules(field string, rules []string) ([]string, error) {
	if len(rules) > MaxDomainRules {
		return nil, Invalid("%s must list at most %d domains", field, MaxDomainRules)
	}
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		r = strings.ToLower(strings.TrimSpace(r))
		domain := strings.TrimPrefix(r, "*.")
		if !validDomain(domain) {
			return nil, Invalid("%s: %q is not a domain such as example.com or *.example.com", field, r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return nilIfEmpty(out), nil
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !domainLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// domainMatches tells whether domain falls under rule: the domain itself,
// or with *. any domain below it.
func domainMatches(rule, domain string) bool {
	if parent, ok := strings.CutPrefix(rule, "*."); ok {
		return strings.HasSuffix(domain, "."+parent)
	}
	return domain == rule
}

// checkDomain holds a normalized address to the domain policy: a 422 that
// names the rule it breaks.
func (s *Settings) checkDomain(email string) error {
	_, domain, _ := strings.Cut(email, "@")
	for _, r := range s.BlockedEmailDomains {
		if domainMatches(r, domain) {
			return Invalid("%s is not invited here: its domain %s is blocked by the rule %q of blocked_email_domains", email, domain, r)
		}
	}
	if len(s.AllowedEmailDomains) == 0 {
		return nil
	}
	for _, r := range s.AllowedEmailDomains {
		if domainMatches(r, domain) {
			return nil
		}
	}
	return Invalid("%s is not invited here: its domain %s is not in allowed_email_domains (%s)",
		email, domain, strings.Join(s.AllowedEmailDomains, ", "))
}

// localHost tells the hosts a redirect may reach over plain http.
func localHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// checkOrigin reads an origin, scheme://host[:port], in its lowercase form.
func checkOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	bad := Invalid("allowed_redirect_origins: %q is not an origin such as https://app.example.com (http only for localhost, 127.0.0.1 and ::1)", o)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || strings.ContainsAny(o, "?#") {
		return "", bad
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if scheme != "https" && !(scheme == "http" && localHost(host)) {
		return "", bad
	}
	// A scheme's own port is the origin without one, as browsers write it.
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host, nil
}

// originOf is u's origin in checkOrigin's form.
func originOf(u *url.URL) string {
	o, err := checkOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return ""
	}
	return o
}

// checkRedirect checks a redirect target: an https URL (http on localhost
// and 127.0.0.1) whose origin is one of allowed_redirect_origins.
func (s *Settings) checkRedirect(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || len(raw) > MaxURLLen {
		return "", Invalid("%s must be an absolute https URL of at most %d characters", field, MaxURLLen)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if scheme != "https" && !(scheme == "http" && localHost(host)) {
		return "", Invalid("%s must be https (http only for localhost, 127.0.0.1 and ::1)", field)
	}
	origin := originOf(u)
	if len(s.AllowedRedirectOrigins) == 0 {
		return "", Invalid("%s leads to %s, but the organization allows no redirect origins (set allowed_redirect_origins)", field, origin)
	}
	if !slices.Contains(s.AllowedRedirectOrigins, origin) {
		return "", Invalid("%s leads to %s, which is not in allowed_redirect_origins (%s)", field, origin,
			strings.Join(s.AllowedRedirectOrigins, ", "))
	}
	return raw, nil
}

// RedirectAfter is where the invitee goes after answering inv, which is now
// in state: its redirect_url, else the organization's default_redirect_url,
// with invitation_id, organization_id and state added to the query; "" when
// there is neither or the origin is no longer allowed. own tells that it is
// the invitation's own, which the invitee page follows at once; the default
// is offered as a link.
func RedirectAfter(inv *Invitation, o *Organization) (target string, own bool) {
	raw, own := inv.RedirectURL, true
	if raw == "" {
		raw, own = o.Settings.DefaultRedirectURL, false
	}
	if raw == "" {
		return "", false
	}
	if _, err := o.Settings.checkRedirect("redirect_url", raw); err != nil {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("invitation_id", inv.ID.String())
	q.Set("organization_id", inv.OrgID.String())
	q.Set("state", string(inv.State))
	u.RawQuery = q.Encode()
	return u.String(), own
}

// DisplayName is the name the organization shows invitees.
func (o *Organization) DisplayName() string {
	if o.Settings.DisplayName != "" {
		return o.Settings.DisplayName
	}
	return o.Name
}

// ---- seats

// Seats is how an organization's seats are used.
type Seats struct {
	Limit   int // 0: no limit
	Members int
	Pending int // pending, unexpired invitations
}

// Used is the seats taken.
func (s Seats) Used() int { return s.Members + s.Pending }

func (s Seats) full() error {
	return Conflict("seat limit reached: %d of %d seats used (%d members, %d pending invitations)",
		s.Used(), s.Limit, s.Members, s.Pending)
}

// countSeats counts o's seats as of ch's clock; in a Write the count holds
// against every other Write that counts them until the commit.
func (s *Service) countSeats(ch *change, o *Organization) (Seats, error) {
	members, pending, err := ch.tx.CountSeats(ch.ctx, o.ID, ch.now)
	return Seats{Limit: o.Settings.MaxMembers, Members: members, Pending: pending}, err
}

// refuseSeat says whether a write that has added one pending invitation to
// o (counted in seats) passes o's seat limit.
func refuseSeat(seats Seats) error {
	if seats.Limit == 0 || seats.Used() <= seats.Limit {
		return nil
	}
	seats.Pending-- // as it was without this one
	return seats.full()
}

// refuseNewSeat says whether o's seats, counted now with uncounted more
// pending invitations than the store holds yet, pass its limit.
func (s *Service) refuseNewSeat(ch *change, o *Organization, uncounted int) error {
	if o.Settings.MaxMembers == 0 {
		return nil
	}
	seats, err := s.countSeats(ch, o)
	if err != nil {
		return err
	}
	seats.Pending += uncounted
	return refuseSeat(seats)
}

// admitMember holds the accept of inv to the policies as they are now: its
// address must still be allowed, and the members alone must leave a seat.
func (s *Service) admitMember(ch *change, inv *Invitation) error {
	o, err := s.getOrg(ch.ctx, ch.tx, inv.OrgID)
	if err != nil {
		return err
	}
	if err := o.Settings.checkDomain(inv.Email); err != nil {
		return Invalid("this invitation can no longer be accepted: %s", err.(*Error).Message)
	}
	if o.Settings.MaxMembers == 0 {
		return nil
	}
	seats, err := s.countSeats(ch, o)
	if err != nil {
		return err
	}
	if seats.Members >= seats.Limit {
		return seats.full()
	}
	return nil
}
