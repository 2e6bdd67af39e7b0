package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/invitd/invitd/invite"
)

//go:embed templates
var embedded embed.FS

// The files every locale has, under templates/<locale>/.
const (
	fileSubject = "subject.txt"
	fileText    = "body.txt"
	fileHTML    = "body.html"
)

// DefaultLocale is used when neither the invitation nor its organization
// names a locale that has templates.
const DefaultLocale = "en"

// Data is what the templates see.
type Data struct {
	// OrgName is the organization's display name when it gives one.
	OrgName     string
	InviterName string
	Email       string
	Role        string
	Permissions []string
	ExpiresAt   time.Time
	// Expires is ExpiresAt written for the locale, in UTC.
	Expires string
	Link    string
	Locale  string
	// Subject is the rendered subject (empty while the subject renders).
	Subject string
	// Reminder: the mail reminds of an invitation mailed earlier.
	Reminder bool
	// The organization's branding: LogoURL (https) and SupportEmail may be
	// empty; BrandColor is the button's colour, DefaultBrandColor unless
	// the organization sets one.
	LogoURL      string
	BrandColor   string
	SupportEmail string
}

// DefaultBrandColor is the button's colour for an organization without one.
const DefaultBrandColor = "#1f6feb"

// Content is a rendered mail.
type Content struct {
	Locale  string
	Subject string
	Text    string
	HTML    string
}

type localeTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Templates renders invitation mail in the locales it has.
type Templates struct {
	byLocale map[string]*localeTemplates
}

var funcs = map[string]any{
	"join":  strings.Join,
	"upper": strings.ToUpper,
}

// LoadTemplates reads the embedded templates, each file overridden by the
// same path under dir (dir/<locale>/subject.txt, body.txt, body.html) when
// dir is set. A locale only dir has must have all three files.
func LoadTemplates(dir string) (*Templates, error) {
	var over fs.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("mail templates: %s is not a directory", dir)
		}
		over = os.DirFS(dir)
	}
	base, _ := fs.Sub(embedded, "templates")
	locales := map[string]bool{}
	for _, f := range []fs.FS{base, over} {
		if f == nil {
			continue
		}
		entries, err := fs.ReadDir(f, ".")
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				locales[strings.ToLower(e.Name())] = true
			}
		}
	}
	t := &Templates{byLocale: map[string]*localeTemplates{}}
	read := func(loc, name string) (string, error) {
		p := path.Join(loc, name)
		if over != nil {
			b, err := fs.ReadFile(over, p)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		b, err := fs.ReadFile(base, p)
		if err != nil {
			return "", fmt.Errorf("mail templates: locale %s has no %s", loc, name)
		}
		return string(b), nil
	}
	for loc := range locales {
		var lt localeTemplates
		src, err := read(loc, fileSubject)
		if err != nil {
			return nil, err
		}
		if lt.subject, err = texttemplate.New(fileSubject).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail templates: %s/%s: %w", loc, fileSubject, err)
		}
		if src, err = read(loc, fileText); err != nil {
			return nil, err
		}
		if lt.text, err = texttemplate.New(fileText).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail templates: %s/%s: %w", loc, fileText, err)
		}
		if src, err = read(loc, fileHTML); err != nil {
			return nil, err
		}
		if lt.html, err = htmltemplate.New(fileHTML).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail templates: %s/%s: %w", loc, fileHTML, err)
		}
		t.byLocale[loc] = &lt
	}
	if t.byLocale[DefaultLocale] == nil {
		return nil, fmt.Errorf("mail templates: no %s templates", DefaultLocale)
	}
	return t, nil
}

// Locales lists the locales t has templates for.
func (t *Templates) Locales() []string {
	out := make([]string, 0, len(t.byLocale))
	for l := range t.byLocale {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Pick returns the first of the candidate locales that t has, trying each
// as given and then its language alone (ja-JP, then ja); DefaultLocale when
// none matches.
func (t *Templates) Pick(candidates ...string) string {
	for _, c := range candidates {
		c = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(c), "_", "-"))
		if c == "" {
			continue
		}
		if t.byLocale[c] != nil {
			return c
		}
		if lang, _, ok := strings.Cut(c, "-"); ok && t.byLocale[lang] != nil {
			return lang
		}
	}
	return DefaultLocale
}

// expiryLayouts write an expiry time per language.
var expiryLayouts = map[string]string{
	"en": "Monday, 2 January 2006 at 15:04 MST",
	"ja": "2006年1月2日 15:04 (MST)",
}

// FormatTime writes t in UTC the way locale reads dates.
func FormatTime(locale string, t time.Time) string {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	layout, ok := expiryLayouts[lang]
	if !ok {
		layout = expiryLayouts[DefaultLocale]
	}
	return t.UTC().Format(layout)
}

// Link is the accept page's address for token under baseURL.
func Link(baseURL, token string) string {
	return strings.TrimRight(baseURL, "/") + "/i/" + token
}

// DataFor gathers the template data of an invitation mail.
func DataFor(m *invite.Mail, baseURL, locale string) Data {
	inv := m.Invitation
	st := m.Organization.Settings
	color := st.BrandColor
	if color == "" {
		color = DefaultBrandColor
	}
	return Data{
		OrgName:      m.Organization.DisplayName(),
		Reminder:     m.Reminder,
		LogoURL:      st.LogoURL,
		BrandColor:   color,
		SupportEmail: st.SupportEmail,
		InviterName:  inv.Inviter.Name,
		Email:        inv.Email,
		Role:         inv.Role,
		Permissions:  inv.Permissions,
		ExpiresAt:    inv.ExpiresAt,
		Expires:      FormatTime(locale, inv.ExpiresAt),
		Link:         Link(baseURL, m.Token),
		Locale:       locale,
	}
}

// Render writes the mail for m in the locale of the invitation, else of its
// organization, else DefaultLocale.
func (t *Templates) Render(m *invite.Mail, baseURL string) (*Content, error) {
	loc := t.Pick(m.Invitation.Locale, m.Organization.Settings.Locale)
	d := DataFor(m, baseURL, loc)
	return t.RenderData(loc, d)
}

// RenderData renders d with the templates of locale.
func (t *Templates) RenderData(locale string, d Data) (*Content, error) {
	lt := t.byLocale[locale]
	if lt == nil {
		return nil, fmt.Errorf("mail templates: no locale %q", locale)
	}
	var b bytes.Buffer
	if err := lt.subject.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("mail subject: %w", err)
	}
	d.Subject = oneLine(b.String())
	c := &Content{Locale: locale, Subject: d.Subject}
	b.Reset()
	if err := lt.text.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("mail text: %w", err)
	}
	c.Text = b.String()
	b.Reset()
	if err := lt.html.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("mail html: %w", err)
	}
	c.HTML = b.String()
	return c, nil
}

// oneLine makes s safe as a header value: every run of whitespace or control
// characters becomes one space.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}
