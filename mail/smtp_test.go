package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	webmail "github.com/webauthnkit/webauthnkit/mail"
)

const testFrom = "Passkey App <noreply@example.com>"

func newSMTP(t *testing.T, cfg webmail.SMTPConfig) *webmail.SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = testFrom
	}
	m, err := webmail.NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return m
}

func waitFor(t *testing.T, srv *testsmtp.Server, to string) testsmtp.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := srv.WaitFor(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTPStartTLSAuthDeliversMultipart(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true, Username: "app", Password: "s3cret"})
	m := newSMTP(t, webmail.SMTPConfig{
		Addr: srv.Addr, Username: "app", Password: "s3cret",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs},
	})
	longLine := strings.Repeat("x", 1500) // beyond SMTP's 1000-octet line limit
	msg := webmail.Message{
		To:      "Zoë Example <zoe@example.org>",
		Subject: "Vérifiez votre adresse — 確認",
		Text:    "Your code is 428913.\n.leading dot line\n" + longLine + "\n",
		HTML:    `<p>Your code is <b>428913</b> = café</p>`,
		Headers: map[string]string{"X-Request-Id": "r-1"},
	}
	before := time.Now().Add(-time.Second)
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := waitFor(t, srv, "zoe@example.org")

	if !got.TLS || got.Authenticated != "app" {
		t.Errorf("TLS=%v Authenticated=%q, want TLS and AUTH as app", got.TLS, got.Authenticated)
	}
	if got.From != "noreply@example.com" {
		t.Errorf("MAIL FROM = %q", got.From)
	}
	if got.Subject != msg.Subject {
		t.Errorf("decoded Subject = %q, want %q", got.Subject, msg.Subject)
	}
	if raw := got.Header.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject %q is not RFC 2047 Q-encoded", raw)
	}
	to, err := got.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë Example" || to[0].Address != "zoe@example.org" {
		t.Errorf("To header = %q (%v, %v)", got.Header.Get("To"), to, err)
	}
	from, err := got.Header.AddressList("From")
	if err != nil || from[0].Address != "noreply@example.com" || from[0].Name != "Passkey App" {
		t.Errorf("From header = %q", got.Header.Get("From"))
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@example\.com>$`).MatchString(got.Header.Get("Message-Id")) {
		t.Errorf("Message-ID = %q", got.Header.Get("Message-Id"))
	}
	date, err := got.Header.Date()
	if err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %q (%v)", got.Header.Get("Date"), err)
	}
	if got.Header.Get("X-Request-Id") != "r-1" || got.Header.Get("Mime-Version") != "1.0" {
		t.Errorf("headers: %v", got.Header)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q", ct)
	}
	if got.Text != msg.Text {
		t.Errorf("text part = %q, want %q", got.Text, msg.Text)
	}
	if got.HTML != msg.HTML {
		t.Errorf("html part = %q, want %q", got.HTML, msg.HTML)
	}
	raw := string(got.Raw)
	if strings.Count(raw, "Content-Transfer-Encoding: quoted-printable") != 2 {
		t.Errorf("parts are not both quoted-printable:\n%s", raw)
	}
	for _, line := range strings.Split(raw, "\r\n") {
		if len(line) > 998 {
			t.Fatalf("raw line of %d bytes", len(line))
		}
	}
}

// A maximal non-ASCII subject and display name are folded so that no raw
// line exceeds 998 octets, and decode back unchanged.
func TestSMTPLongUTF8HeadersFolded(t *testing.T) {
	srv := testsmtp.Start(t)
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLS: webmail.TLSNone})
	subject := strings.Repeat("é", webmail.MaxSubjectBytes/2)
	name := strings.Repeat("ü", 100)
	if err := m.Send(context.Background(), webmail.Message{To: name + " <long@example.org>", Subject: subject, Text: "t",
		Headers: map[string]string{"X-Note": strings.Repeat("ß", webmail.MaxHeaderBytes/2)}}); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, srv, "long@example.org")
	for _, line := range strings.Split(string(got.Raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("raw line of %d bytes: %.80s...", len(line), line)
		}
	}
	if got.Subject != subject {
		t.Errorf("subject = %q", got.Subject)
	}
	if to, err := got.Header.AddressList("To"); err != nil || to[0].Name != name {
		t.Errorf("To = %v, %v", to, err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true, Implicit: true, Username: "app", Password: "pw"})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLS: webmail.TLSImplicit, Username: "app", Password: "pw",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	if err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "text only"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := waitFor(t, srv, "a@example.org")
	if !got.TLS || got.Text != "text only\n" || !strings.HasPrefix(got.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("TLS=%v text=%q content-type=%q", got.TLS, got.Text, got.Header.Get("Content-Type"))
	}
}

func TestSMTPPlainLoopback(t *testing.T) {
	srv := testsmtp.Start(t)
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLS: webmail.TLSNone})
	if err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t", HTML: "<p>h</p>"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := waitFor(t, srv, "a@example.org"); got.TLS || got.HTML != "<p>h</p>" {
		t.Errorf("TLS=%v html=%q", got.TLS, got.HTML)
	}
}

// A server that does not offer STARTTLS must not get the message in plain
// text when STARTTLS is required (the default).
func TestSMTPStartTLSRequiredNoDowngrade(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{Username: "app", Password: "pw"})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, Username: "app", Password: "pw"})
	err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "code 1"})
	assertSendError(t, err, webmail.ErrUnavailable, "starttls", 0)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered without TLS", n)
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr}) // system roots: the test CA is unknown
	err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t"})
	assertSendError(t, err, webmail.ErrUnavailable, "starttls", 0)
}

func TestSMTPWrongPasswordIsUnavailableNotRejected(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true, Username: "app", Password: "right"})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, Username: "app", Password: "wrong",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t"})
	se := assertSendError(t, err, webmail.ErrUnavailable, "auth", 535)
	if se != nil && !se.Permanent {
		t.Errorf("535 not marked Permanent")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestSMTPRecipientRejected(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{RcptError: func(to string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLS: webmail.TLSNone})
	err := m.Send(context.Background(), webmail.Message{To: "nobody@example.org", Subject: "Hi", Text: "t"})
	assertSendError(t, err, webmail.ErrRejected, "rcpt", 550)
	if errors.Is(err, webmail.ErrUnavailable) {
		t.Errorf("550 also matches ErrUnavailable: %v", err)
	}
}

func TestSMTPTemporaryFailures(t *testing.T) {
	msg := webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t"}
	t.Run("451 on RCPT", func(t *testing.T) {
		srv := testsmtp.StartWith(t, testsmtp.Options{RcptError: func(string) *smtp.SMTPError {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}})
		err := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLS: webmail.TLSNone}).Send(context.Background(), msg)
		assertSendError(t, err, webmail.ErrUnavailable, "rcpt", 451)
		if errors.Is(err, webmail.ErrRejected) {
			t.Errorf("451 matches ErrRejected")
		}
	})
	t.Run("421 greeting", func(t *testing.T) {
		addr := testsmtp.StartScripted(t, func(c net.Conn) {
			_ = testsmtp.NewScript(c).Reply("421 4.3.2 Service not available, closing channel")
		})
		err := newSMTP(t, webmail.SMTPConfig{Addr: addr, TLS: webmail.TLSNone}).Send(context.Background(), msg)
		assertSendError(t, err, webmail.ErrUnavailable, "greeting", 421)
	})
	t.Run("connection refused", func(t *testing.T) {
		start := time.Now()
		err := newSMTP(t, webmail.SMTPConfig{Addr: testsmtp.ClosedPort(t), TLS: webmail.TLSNone}).Send(context.Background(), msg)
		assertSendError(t, err, webmail.ErrUnavailable, "dial", 0)
		if d := time.Since(start); d > time.Second {
			t.Errorf("refused connection took %v", d)
		}
	})
	t.Run("dropped during DATA", func(t *testing.T) {
		addr := testsmtp.StartScripted(t, func(c net.Conn) {
			s := testsmtp.NewScript(c)
			_ = s.Reply("220 localhost ESMTP")
			for _, verb := range []string{"EHLO", "MAIL", "RCPT"} {
				if !s.Expect(verb) {
					return
				}
				_ = s.Reply("250 OK")
			}
			if !s.Expect("DATA") {
				return
			}
			_ = s.Reply("354 Go ahead")
			_, _ = s.ReadLine() // one line of the message, then the connection drops
		})
		err := newSMTP(t, webmail.SMTPConfig{Addr: addr, TLS: webmail.TLSNone}).Send(context.Background(), msg)
		assertSendError(t, err, webmail.ErrUnavailable, "data", 0)
	})
}

// A server that accepts the connection and never answers must not hold the
// caller longer than the configured timeout (or the ctx deadline, if earlier).
func TestSMTPHangingServerBoundedByTimeout(t *testing.T) {
	addr := testsmtp.StartHanging(t)
	msg := webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t"}
	const margin = 250 * time.Millisecond
	cases := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		bound   time.Duration
		want    error
	}{
		{"config timeout", 300 * time.Millisecond, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 300 * time.Millisecond, context.DeadlineExceeded},
		{"ctx deadline wins", 10 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, 200 * time.Millisecond, context.DeadlineExceeded},
		{"ctx cancelled", 10 * time.Second, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(150*time.Millisecond, cancel)
			return ctx, cancel
		}, 150 * time.Millisecond, context.Canceled},
	}
	for _, tc := range cases {
		for _, mode := range []webmail.TLSMode{webmail.TLSNone, webmail.TLSStartTLS, webmail.TLSImplicit} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				m := newSMTP(t, webmail.SMTPConfig{Addr: addr, TLS: mode, Timeout: tc.timeout})
				ctx, cancel := tc.ctx()
				defer cancel()
				start := time.Now()
				err := m.Send(ctx, msg)
				elapsed := time.Since(start)
				if !errors.Is(err, webmail.ErrUnavailable) || !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want ErrUnavailable and %v", err, tc.want)
				}
				if elapsed > tc.bound+margin {
					t.Errorf("Send returned after %v, bound %v + %v", elapsed, tc.bound, margin)
				}
				if elapsed < tc.bound-50*time.Millisecond {
					t.Errorf("Send returned after %v, before the %v bound: did it time out for another reason? %v", elapsed, tc.bound, err)
				}
				t.Logf("returned after %v (bound %v): %v", elapsed.Round(time.Millisecond), tc.bound, err)
			})
		}
	}
}

// The same bound holds when the server stops answering mid-transaction,
// after accepting the message body.
func TestSMTPServerHangsAfterData(t *testing.T) {
	addr := testsmtp.StartScripted(t, func(c net.Conn) {
		s := testsmtp.NewScript(c)
		_ = s.Reply("220 localhost ESMTP")
		for _, verb := range []string{"EHLO", "MAIL", "RCPT"} {
			if !s.Expect(verb) {
				return
			}
			_ = s.Reply("250 OK")
		}
		if !s.Expect("DATA") {
			return
		}
		_ = s.Reply("354 Go ahead")
		_, _ = io.Copy(io.Discard, c) // swallow the body and "." but never reply
	})
	m := newSMTP(t, webmail.SMTPConfig{Addr: addr, TLS: webmail.TLSNone, Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := m.Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "Hi", Text: "t"})
	elapsed := time.Since(start)
	assertSendError(t, err, webmail.ErrUnavailable, "data", 0)
	if elapsed > 550*time.Millisecond {
		t.Errorf("Send returned after %v, bound 300ms + 250ms", elapsed)
	}
}

func TestSMTPConcurrentSends(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- m.Send(context.Background(), webmail.Message{To: fmt.Sprintf("u%d@example.org", i), Subject: "Hi", Text: fmt.Sprint(i)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range 8 {
		if got := waitFor(t, srv, fmt.Sprintf("u%d@example.org", i)); got.Text != fmt.Sprint(i)+"\n" { // SMTP ends a single-part body with CRLF
			t.Errorf("u%d got %q", i, got.Text)
		}
	}
}

// Templates rendered and sent over real SMTP read back as the user sees them.
func TestSMTPRenderedTemplateReadsBack(t *testing.T) {
	srv := testsmtp.StartWith(t, testsmtp.Options{TLS: true})
	m := newSMTP(t, webmail.SMTPConfig{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	msg, err := webmail.DefaultTemplates().Render(webmail.TemplateRecoveryCode, "user@example.org", webmail.Data{
		AppName: "Acme", Code: "305917", Link: "https://acme.example/recover?t=abc", ExpiresIn: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, srv, "user@example.org")
	if code := regexp.MustCompile(`\b\d{6}\b`).FindString(got.Text); code != "305917" {
		t.Errorf("code read from the text part = %q\n%s", code, got.Text)
	}
	if !strings.Contains(got.HTML, `href="https://acme.example/recover?t=abc"`) || !strings.Contains(got.Text, "15 minutes") {
		t.Errorf("link or expiry missing:\n%s\n%s", got.Text, got.HTML)
	}
	if strings.Contains(got.Subject, "305917") {
		t.Errorf("code in the subject (shown on lock screens): %q", got.Subject)
	}
}

func assertSendError(t *testing.T, err error, kind error, step string, code int) *webmail.SendError {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	var se *webmail.SendError
	if !errors.As(err, &se) {
		t.Fatalf("err %T is not a *SendError", err)
	}
	if se.Step != step || se.Code != code {
		t.Errorf("Step=%q Code=%d, want %q %d (%v)", se.Step, se.Code, step, code, err)
	}
	if !strings.HasPrefix(err.Error(), "mail: ") {
		t.Errorf("error not prefixed: %v", err)
	}
	return se
}
