package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
)

// Template names used by the library.
const (
	TemplateVerifyEmail       = "verify_email"
	TemplateRecoveryCode      = "recovery_code"
	TemplatePasskeyAdded      = "passkey_added"
	TemplatePasskeyRemoved    = "passkey_removed"
	TemplateRecoveryStarted   = "recovery_started"
	TemplateRecoveryCompleted = "recovery_completed"
	TemplateEmailChanged      = "email_changed"
	// TemplateDeviceLinked: a signed-in device approved a new one (device
	// linking); Device describes the new device, IP its address.
	TemplateDeviceLinked = "device_linked"
)

// Data is what a template renders. Fields a template does not use may be
// left empty. Every string may be user-controlled (a passkey name, a user
// agent): control characters become spaces (no extra lines in the text part
// or the subject), the HTML part escapes them (html/template), and Link must
// be an absolute http or https URL.
type Data struct {
	AppName   string
	Username  string
	Code      string        // one-time code to type
	Link      string        // optional link carrying a token
	ExpiresIn time.Duration // lifetime of Code/Link
	Time      time.Time     // when the event happened
	Device    string        // passkey name or device description
	IP        string        // client address of the event
	OldEmail  string
	NewEmail  string
}

//go:embed templates/*.txt templates/*.html
var defaultFS embed.FS

// layoutFile wraps every HTML template; a name's .html file defines "content".
const layoutFile = "layout.html"

// Templates renders named emails: "<name>.txt" is a text/template that also
// defines "subject"; "<name>.html" (optional) is an html/template defining
// "content", executed inside layout.html. Safe for concurrent use.
type Templates struct {
	sets map[string]templateSet
}

type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template // nil: text-only
}

var templateFuncs = map[string]any{
	"duration": humanDuration,
	"when":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
}

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates {
	t, err := LoadTemplates(nil)
	if err != nil {
		panic(err) // the embedded templates are tested; this cannot happen
	}
	return t
}

// LoadTemplates returns the embedded templates with any file found at the
// root of overrides replacing the default of the same name (file by file:
// override verify_email.html alone to restyle it, or layout.html for all).
// A "<name>.txt" with no default adds a new template. Every template is
// executed once with sample data so a broken override fails here, at start-up,
// not when the first user needs a code. overrides may be nil.
func LoadTemplates(overrides fs.FS) (*Templates, error) {
	read := func(name string) ([]byte, bool, error) {
		if overrides != nil {
			b, err := fs.ReadFile(overrides, name)
			if err == nil {
				return b, true, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, false, fmt.Errorf("mail: template %s: %w", name, err)
			}
		}
		b, err := defaultFS.ReadFile(path.Join("templates", name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return b, err == nil, err
	}

	names, err := templateNames(overrides)
	if err != nil {
		return nil, err
	}
	layout, _, err := read(layoutFile)
	if err != nil {
		return nil, err
	}
	t := &Templates{sets: make(map[string]templateSet, len(names))}
	for _, name := range names {
		text, _, err := read(name + ".txt")
		if err != nil {
			return nil, err
		}
		var set templateSet
		set.text, err = texttemplate.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("mail: template %s.txt: %w", name, err)
		}
		if set.text.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: template %s.txt: no {{define \"subject\"}}", name)
		}
		html, ok, err := read(name + ".html")
		if err != nil {
			return nil, err
		}
		if ok {
			set.html, err = htmltemplate.New(layoutFile).Funcs(templateFuncs).Parse(string(layout))
			if err == nil {
				_, err = set.html.New(name + ".html").Parse(string(html))
			}
			if err != nil {
				return nil, fmt.Errorf("mail: template %s.html: %w", name, err)
			}
		}
		t.sets[name] = set
		if _, err := t.Render(name, "user@example.com", sampleData); err != nil {
			return nil, err
		}
	}
	return t, nil
}

var sampleData = Data{AppName: "App", Username: "user", Code: "123456", Link: "https://example.com/x", ExpiresIn: 15 * time.Minute, Time: time.Unix(0, 0), Device: "device", IP: "192.0.2.1", OldEmail: "old@example.com", NewEmail: "new@example.com"}

// templateNames lists the default names plus the .txt files in overrides.
func templateNames(overrides fs.FS) ([]string, error) {
	var names []string
	add := func(fsys fs.FS, dir string) error {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return fmt.Errorf("mail: templates: %w", err)
		}
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".txt"); ok && !e.IsDir() && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		return nil
	}
	if err := add(defaultFS, "templates"); err != nil {
		return nil, err
	}
	if overrides != nil {
		if err := add(overrides, "."); err != nil {
			return nil, err
		}
	}
	slices.Sort(names)
	return names, nil
}

// Names lists the available templates, sorted.
func (t *Templates) Names() []string {
	names := make([]string, 0, len(t.sets))
	for n := range t.sets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render executes template name for data and returns a Message to to.
// The subject's whitespace is collapsed to single spaces so no template or
// data can add a header line. The Message is validated.
func (t *Templates) Render(name, to string, data Data) (Message, error) {
	set, ok := t.sets[name]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown template %q", name)
	}
	if data.Link != "" {
		// The text part cannot filter a link the way html/template does, and
		// some clients make any URL clickable: only absolute http(s) links.
		u, err := url.Parse(data.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Message{}, fmt.Errorf("mail: template %s: Data.Link must be an absolute http or https URL", name)
		}
	}
	data = data.withoutControls()
	var subject, text, html bytes.Buffer
	if err := set.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s subject: %w", name, err)
	}
	if err := set.text.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("mail: template %s.txt: %w", name, err)
	}
	if set.html != nil {
		if err := set.html.ExecuteTemplate(&html, layoutFile, data); err != nil {
			return Message{}, fmt.Errorf("mail: template %s.html: %w", name, err)
		}
	}
	msg := Message{
		To:      to,
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    text.String(),
		HTML:    html.String(),
	}
	if _, err := msg.validate(); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: %w", name, err)
	}
	return msg, nil
}

// withoutControls replaces control characters in every string with a space,
// so a user-chosen passkey name cannot add lines to the text part (for
// example a fake "Your code is ..." line) or to the subject.
func (d Data) withoutControls() Data {
	for _, f := range []*string{&d.AppName, &d.Username, &d.Code, &d.Link, &d.Device, &d.IP, &d.OldEmail, &d.NewEmail} {
		*f = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, *f)
	}
	return d
}

// humanDuration renders a lifetime as "15 minutes", "1 hour", "90 seconds".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	// Callers pass "expiry minus now", a few microseconds short of the
	// configured lifetime: round to the unit a reader expects.
	switch {
	case d >= time.Hour && d.Round(time.Minute)%time.Hour == 0:
		return plural(int64(d.Round(time.Hour)/time.Hour), "hour")
	case d >= 2*time.Minute:
		return plural(int64(d.Round(time.Minute)/time.Minute), "minute")
	default:
		return plural(int64(d.Round(time.Second)/time.Second), "second")
	}
}
