package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	webmail "github.com/webauthnkit/webauthnkit/mail"
)

func TestNewSMTPConfigErrors(t *testing.T) {
	const secret = "hunter2-secret"
	cases := []struct {
		name  string
		cfg   webmail.SMTPConfig
		field string
	}{
		{"no Addr", webmail.SMTPConfig{From: "a@example.com"}, "Addr"},
		{"Addr without port", webmail.SMTPConfig{Addr: "smtp.example.com", From: "a@example.com"}, "Addr"},
		{"no From", webmail.SMTPConfig{Addr: "smtp.example.com:587"}, "From"},
		{"From not an address", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "nobody"}, "From"},
		{"From with CRLF", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com\r\nBcc: x@evil.example"}, "From"},
		{"plaintext AUTH to a remote host", webmail.SMTPConfig{Addr: "192.0.2.10:25", From: "a@example.com", TLS: webmail.TLSNone, Username: "u", Password: secret}, "TLS"},
		{"plaintext to a remote name", webmail.SMTPConfig{Addr: "smtp.example.com:25", From: "a@example.com", TLS: webmail.TLSNone}, "TLS"},
		{"plaintext to a name that resolves nowhere special", webmail.SMTPConfig{Addr: "localhost.evil.example:25", From: "a@example.com", TLS: webmail.TLSNone}, "TLS"},
		{"unknown TLS mode", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", TLS: 7}, "TLS"},
		{"Password without Username", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", Password: secret}, "Username"},
		{"negative DialTimeout", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", DialTimeout: -1}, "DialTimeout"},
		{"negative Timeout", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", Timeout: -1}, "Timeout"},
		{"HelloName with CRLF", webmail.SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", HelloName: "x\r\nMAIL FROM:<a@b>"}, "HelloName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := webmail.NewSMTP(tc.cfg)
			var ce *webmail.ConfigError
			if !errors.As(err, &ce) || m != nil {
				t.Fatalf("NewSMTP = %v, %v; want *ConfigError", m, err)
			}
			if ce.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", ce.Field, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "mail: ") || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q: want the mail: prefix and no password", err)
			}
		})
	}
}

func TestNewSMTPLoopbackPlaintextAllowed(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:25", "[::1]:25", "localhost:1025", "127.9.9.9:25"} {
		if _, err := webmail.NewSMTP(webmail.SMTPConfig{Addr: addr, From: "a@example.com", TLS: webmail.TLSNone, Username: "u", Password: "p"}); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// Header injection through any field is refused before a connection is made,
// by both mailers.
func TestHeaderInjectionRefused(t *testing.T) {
	base := webmail.Message{To: "user@example.org", Subject: "Hi", Text: "body"}
	cases := map[string]func(*webmail.Message){
		"To with CRLF":           func(m *webmail.Message) { m.To = "user@example.org\r\nBcc: victim@example.net" },
		"To with LF":             func(m *webmail.Message) { m.To = "user@example.org\nBcc: victim@example.net" },
		"To in a display name":   func(m *webmail.Message) { m.To = "\"x\r\nBcc: v@example.net\" <user@example.org>" },
		"two recipients":         func(m *webmail.Message) { m.To = "user@example.org, victim@example.net" },
		"To not an address":      func(m *webmail.Message) { m.To = "user" },
		"To empty":               func(m *webmail.Message) { m.To = "" },
		"Subject with CRLF":      func(m *webmail.Message) { m.Subject = "Hi\r\nBcc: victim@example.net" },
		"Subject with bare CR":   func(m *webmail.Message) { m.Subject = "Hi\rBcc: victim@example.net" },
		"Subject with NUL":       func(m *webmail.Message) { m.Subject = "Hi\x00" },
		"Subject empty":          func(m *webmail.Message) { m.Subject = "" },
		"Subject too long":       func(m *webmail.Message) { m.Subject = strings.Repeat("s", webmail.MaxSubjectBytes+1) },
		"header value with CRLF": func(m *webmail.Message) { m.Headers = map[string]string{"X-Tag": "a\r\nBcc: victim@example.net"} },
		"header name with colon": func(m *webmail.Message) { m.Headers = map[string]string{"X-Tag: a\r\nBcc": "v"} },
		"header name with space": func(m *webmail.Message) { m.Headers = map[string]string{"X Tag": "v"} },
		"reserved header Bcc":    func(m *webmail.Message) { m.Headers = map[string]string{"bcc": "victim@example.net"} },
		"reserved header From":   func(m *webmail.Message) { m.Headers = map[string]string{"From": "ceo@example.com"} },
		"reserved Content-Type":  func(m *webmail.Message) { m.Headers = map[string]string{"content-type": "text/html"} },
		"no text part":           func(m *webmail.Message) { m.Text = "" },
		"text larger than bound": func(m *webmail.Message) { m.Text = strings.Repeat("a", webmail.MaxBodyBytes+1) },
		"html larger than bound": func(m *webmail.Message) { m.HTML = strings.Repeat("a", webmail.MaxBodyBytes+1) },
		"text not UTF-8":         func(m *webmail.Message) { m.Text = "\xff\xfe" },
		"too many headers":       func(m *webmail.Message) { m.Headers = manyHeaders(webmail.MaxHeaders + 1) },
	}
	// A closed port: if validation let anything through, Send would fail with
	// ErrUnavailable instead of ErrInvalidMessage.
	smtpMailer, err := webmail.NewSMTP(webmail.SMTPConfig{Addr: "127.0.0.1:1", From: "a@example.com", TLS: webmail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	mailers := map[string]webmail.Mailer{"smtp": smtpMailer, "development": webmail.NewDevelopment(discardLogger())}
	for name, mutate := range cases {
		msg := base
		mutate(&msg)
		for mname, m := range mailers {
			err := m.Send(context.Background(), msg)
			if !errors.Is(err, webmail.ErrInvalidMessage) || errors.Is(err, webmail.ErrUnavailable) {
				t.Errorf("%s/%s: err = %v, want ErrInvalidMessage", name, mname, err)
			}
		}
	}
}

func manyHeaders(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h["X-H"+strings.Repeat("a", i+1)] = "v"
	}
	return h
}
