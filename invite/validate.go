package invite

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Input limits.
const (
	MaxEmailLen    = 254
	MaxNameLen     = 200
	MaxMetadataLen = 4096
)

// NormalizeEmail trims and lowercases an address and checks that it is a bare
// address: one @, no display name, no control characters, at most 254 bytes.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	switch {
	case e == "":
		return "", Invalid("email is required")
	case len(e) > MaxEmailLen:
		return "", Invalid("email is longer than %d characters", MaxEmailLen)
	case strings.ContainsFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", Invalid("email %q contains whitespace or control characters", e)
	case strings.Count(e, "@") != 1:
		return "", Invalid("email %q must contain exactly one @", e)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", Invalid("email %q is not a valid address", e)
	}
	local, domain, _ := strings.Cut(e, "@")
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", Invalid("email %q is not a valid address", e)
	}
	return e, nil
}

// CheckText checks a one-line human text such as a name: valid UTF-8, no
// control characters (which would break mail headers), at most max bytes.
func CheckText(field, s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return Invalid("%s is not valid UTF-8", field)
	case len(s) > max:
		return Invalid("%s is longer than %d bytes", field, max)
	case strings.ContainsFunc(s, unicode.IsControl):
		return Invalid("%s must not contain line breaks or control characters", field)
	}
	return nil
}

var (
	nameRe   = regexp.MustCompile(`^[a-z][a-z0-9_:.-]{0,63}$`)
	localeRe = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)
)

// CheckLocale accepts an empty locale or a BCP 47-shaped tag.
func CheckLocale(s string) error {
	if s != "" && !localeRe.MatchString(s) {
		return Invalid("locale %q is not a language tag such as en or ja-JP", s)
	}
	return nil
}

// CheckMetadata accepts an empty value or a JSON object of at most 4 KiB.
func CheckMetadata(m json.RawMessage) (json.RawMessage, error) {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if len(m) > MaxMetadataLen {
		return nil, Invalid("metadata is larger than %d bytes", MaxMetadataLen)
	}
	var obj map[string]any
	if m[0] != '{' || json.Unmarshal(m, &obj) != nil {
		return nil, Invalid("metadata must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, m); err != nil {
		return nil, Invalid("metadata must be a JSON object")
	}
	return buf.Bytes(), nil
}

// Check validates settings as a whole.
func (s *Settings) Check() error {
	ttl := s.InvitationTTL
	if ttl < int64(MinTTL.Seconds()) || ttl > int64(MaxTTL.Seconds()) {
		return Invalid("invitation_ttl must be between %d and %d seconds", int64(MinTTL.Seconds()), int64(MaxTTL.Seconds()))
	}
	if len(s.Roles) == 0 || len(s.Roles) > 50 {
		return Invalid("roles must list 1 to 50 roles")
	}
	if err := checkNames("role", s.Roles); err != nil {
		return err
	}
	if len(s.Permissions) > 100 {
		return Invalid("permissions must list at most 100 permissions")
	}
	if err := checkNames("permission", s.Permissions); err != nil {
		return err
	}
	if s.DefaultRole == "" {
		s.DefaultRole = s.Roles[0]
	}
	if !slices.Contains(s.Roles, s.DefaultRole) {
		return Invalid("default_role %q is not one of the roles", s.DefaultRole)
	}
	if s.MaxPending < 0 {
		return Invalid("max_pending must not be negative")
	}
	if err := s.checkLimits(); err != nil {
		return err
	}
	if err := s.checkPolicies(); err != nil {
		return err
	}
	return CheckLocale(s.Locale)
}

func checkNames(what string, names []string) error {
	seen := map[string]bool{}
	for _, n := range names {
		if !nameRe.MatchString(n) {
			return Invalid("%s %q must be lowercase letters, digits and _:.- (at most 64)", what, n)
		}
		if seen[n] {
			return Invalid("%s %q is listed twice", what, n)
		}
		seen[n] = true
	}
	return nil
}

// checkGrant checks a role and permissions against the org's settings and
// fills the default role. Permissions come back in the given order without repeats.
func (o *Organization) checkGrant(role string, perms []string) (string, []string, error) {
	if role == "" {
		role = o.Settings.DefaultRole
	}
	if !o.HasRole(role) {
		return "", nil, Invalid("role %q is not one of %s", role, strings.Join(o.Settings.Roles, ", "))
	}
	out := make([]string, 0, len(perms))
	for _, p := range perms {
		if !slices.Contains(o.Settings.Permissions, p) {
			return "", nil, Invalid("permission %q is not one of %s", p, strings.Join(o.Settings.Permissions, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return role, out, nil
}
