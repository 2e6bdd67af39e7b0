package invite_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/invitd/invitd/invite"
)

// wantInvalid fails unless err is KindInvalid and its message has every word.
func wantInvalid(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if invite.ErrorKind(err) != invite.KindInvalid {
		t.Errorf("%s: %v, want Kind Invalid", what, err)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: message %q does not say %q", what, err, w)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	at254 := local64 + "@" + strings.Repeat("b", 185) + ".com"
	for in, want := range map[string]string{
		"bob@example.com":                     "bob@example.com",
		"  Bob@Example.COM \n":                "bob@example.com",
		"\tALICE.Smith+tag@Sub.Example.co.uk": "alice.smith+tag@sub.example.co.uk",
		"o'neil@example.com":                  "o'neil@example.com",
		local64 + "@example.com":              local64 + "@example.com",
		strings.ToUpper(at254):                at254,
	} {
		got, err := invite.NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if len(at254) != invite.MaxEmailLen {
		t.Fatalf("test address is %d long", len(at254))
	}

	for in, words := range map[string][]string{
		"":                                   {"required"},
		"   ":                                {"required"},
		"bob":                                {"bob", "@"},
		"bob.example.com":                    {"@"},
		"a@b@example.com":                    {"a@b@example.com", "@"},
		"@@example.com":                      {"@"},
		"Bob <b@x.com>":                      {"bob <b@x.com>"},
		"<b@x.com>":                          {"<b@x.com>", "not a valid address"},
		`"Bob" <b@x.com>`:                    {"b@x.com"},
		"bob@exa\r\nmple.com":                {"control"},
		"bob@example.com\r\nBcc: e@evil.com": {"whitespace"},
		"bob\n@example.com":                  {"control"},
		"bo\x00b@example.com":                {"control"},
		"bob smith@example.com":              {"whitespace"},
		"bob@":                               {"not a valid address"},
		"@example.com":                       {"not a valid address"},
		"bob@localhost":                      {"not a valid address"},
		"bob@example.":                       {"not a valid address"},
		"bob@.example.com":                   {"not a valid address"},
		"bob@example..com":                   {"not a valid address"},
		"(comment)bob@example.com":           {"not a valid address"},
		local64 + "a@example.com":            {"not a valid address"},
		"a" + at254:                          {"longer than 254"},
		strings.Repeat("x", 1000) + "@example.com": {"longer than 254"},
	} {
		got, err := invite.NormalizeEmail(in)
		if got != "" {
			t.Errorf("NormalizeEmail(%q) returned %q with an error", in, got)
		}
		wantInvalid(t, "NormalizeEmail("+in+")", err, words...)
	}
}

func TestCheckText(t *testing.T) {
	for _, ok := range []string{"", "Ann", "Zoë Ünal", "日本語の名前", strings.Repeat("x", 10), "a\u2019b"} {
		if err := invite.CheckText("name", ok, 10*3); err != nil {
			t.Errorf("CheckText(%q): %v", ok, err)
		}
	}
	for in, words := range map[string][]string{
		"a\nb":                  {"name", "line breaks"},
		"a\rb":                  {"name", "line breaks"},
		"tab\there":             {"name", "control"},
		"nul\x00":               {"name", "control"},
		"del\x7f":               {"name", "control"},
		"next line\u0085":       {"name", "control"},
		"\xff\xfe":              {"name", "UTF-8"},
		strings.Repeat("x", 31): {"name", "30"},
		strings.Repeat("é", 16): {"name", "30"},
	} {
		wantInvalid(t, "CheckText("+in+")", invite.CheckText("name", in, 30), words...)
	}
}

func TestCheckLocale(t *testing.T) {
	for _, ok := range []string{"", "en", "ja-JP", "zh-Hant-TW", "pt-BR", "es-419"} {
		if err := invite.CheckLocale(ok); err != nil {
			t.Errorf("CheckLocale(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"e", "english", "en_US", "en-", "ja JP", "en\n", "-en"} {
		wantInvalid(t, "CheckLocale("+bad+")", invite.CheckLocale(bad), "locale")
	}
}

func TestCheckMetadata(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "{}",
		"null":                              "{}",
		"  null ":                           "{}",
		"{}":                                "{}",
		` { "a" : 1 , "b": [true, null] } `: `{"a":1,"b":[true,null]}`,
		`{"nested":{"x":"y"}}`:              `{"nested":{"x":"y"}}`,
	} {
		got, err := invite.CheckMetadata(json.RawMessage(in))
		if err != nil || string(got) != want {
			t.Errorf("CheckMetadata(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	big := `{"k":"` + strings.Repeat("v", invite.MaxMetadataLen) + `"}`
	atLimit := `{"k":"` + strings.Repeat("v", invite.MaxMetadataLen-8) + `"}`
	if _, err := invite.CheckMetadata(json.RawMessage(atLimit)); err != nil {
		t.Errorf("metadata of %d bytes: %v", len(atLimit), err)
	}
	for in, word := range map[string]string{
		"[]":              "object",
		"[1,2]":           "object",
		"1":               "object",
		`"s"`:             "object",
		"true":            "object",
		"{":               "object",
		`{"a":}`:          "object",
		`{"a":1} {"b":2}`: "object",
		`{"a":1}x`:        "object",
		big:               "larger",
	} {
		got, err := invite.CheckMetadata(json.RawMessage(in))
		if got != nil {
			t.Errorf("CheckMetadata(%.20q) returned %s with an error", in, got)
		}
		wantInvalid(t, "CheckMetadata", err, "metadata", word)
	}
}

func TestSettingsCheck(t *testing.T) {
	valid := invite.DefaultSettings()
	if err := valid.Check(); err != nil {
		t.Fatalf("the default settings: %v", err)
	}
	for name, c := range map[string]struct {
		change func(*invite.Settings)
		word   string // empty: valid
	}{
		"one hour":             {func(s *invite.Settings) { s.InvitationTTL = 3600 }, ""},
		"30 days":              {func(s *invite.Settings) { s.InvitationTTL = 30 * 24 * 3600 }, ""},
		"under an hour":        {func(s *invite.Settings) { s.InvitationTTL = 3599 }, "invitation_ttl"},
		"over 30 days":         {func(s *invite.Settings) { s.InvitationTTL = 30*24*3600 + 1 }, "invitation_ttl"},
		"negative ttl":         {func(s *invite.Settings) { s.InvitationTTL = -1 }, "invitation_ttl"},
		"no roles":             {func(s *invite.Settings) { s.Roles = nil }, "roles"},
		"51 roles":             {func(s *invite.Settings) { s.Roles = names("r", 51); s.DefaultRole = "r0" }, "roles"},
		"50 roles":             {func(s *invite.Settings) { s.Roles = names("r", 50); s.DefaultRole = "r0" }, ""},
		"upper-case role":      {func(s *invite.Settings) { s.Roles = []string{"Admin"}; s.DefaultRole = "Admin" }, "Admin"},
		"role with space":      {func(s *invite.Settings) { s.Roles = []string{"a b"}; s.DefaultRole = "a b" }, "a b"},
		"role twice":           {func(s *invite.Settings) { s.Roles = []string{"a", "b", "a"}; s.DefaultRole = "a" }, "twice"},
		"default not a role":   {func(s *invite.Settings) { s.DefaultRole = "ghost" }, "ghost"},
		"no default role":      {func(s *invite.Settings) { s.DefaultRole = "" }, ""},
		"no permissions":       {func(s *invite.Settings) { s.Permissions = nil }, ""},
		"101 permissions":      {func(s *invite.Settings) { s.Permissions = names("p", 101) }, "permissions"},
		"scoped permission":    {func(s *invite.Settings) { s.Permissions = []string{"project:create", "a.b_c-d"} }, ""},
		"bad permission":       {func(s *invite.Settings) { s.Permissions = []string{"9lives"} }, "9lives"},
		"permission twice":     {func(s *invite.Settings) { s.Permissions = []string{"p", "p"} }, "twice"},
		"long permission":      {func(s *invite.Settings) { s.Permissions = []string{"p" + strings.Repeat("x", 64)} }, "64"},
		"negative max_pending": {func(s *invite.Settings) { s.MaxPending = -1 }, "max_pending"},
		"max_pending":          {func(s *invite.Settings) { s.MaxPending = 10 }, ""},
		"locale":               {func(s *invite.Settings) { s.Locale = "de-AT" }, ""},
		"bad locale":           {func(s *invite.Settings) { s.Locale = "german" }, "locale"},
	} {
		s := invite.DefaultSettings()
		c.change(&s)
		err := s.Check()
		if c.word == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		wantInvalid(t, name, err, c.word)
	}
	s := invite.DefaultSettings()
	s.DefaultRole = ""
	if err := s.Check(); err != nil || s.DefaultRole != s.Roles[0] {
		t.Errorf("an empty default role becomes %q (%v), want the first role", s.DefaultRole, err)
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}
