// Package testsmtp runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests, and captures what it receives so a test can read mail
// "as a user reads their inbox": Start, send, then WaitFor the recipient.
// It also starts misbehaving servers (hanging, dropping, scripted replies)
// for failure tests.
package testsmtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures Start.
type Options struct {
	// TLS advertises STARTTLS with a self-signed certificate for 127.0.0.1
	// and localhost; clients trust Server.RootCAs.
	TLS bool
	// Implicit, with TLS, speaks TLS from the first byte (port 465 style)
	// instead of offering STARTTLS.
	Implicit bool
	// Username and Password, when set, require AUTH PLAIN before MAIL
	// (offered only after STARTTLS when TLS is set).
	Username, Password string
	// RcptError, when it returns non-nil for a recipient, is the reply to
	// RCPT TO (for example &smtp.SMTPError{Code: 550, ...}).
	RcptError func(to string) *smtp.SMTPError
}

// Server is a capturing SMTP server on 127.0.0.1.
type Server struct {
	Addr    string         // host:port to send to
	RootCAs *x509.CertPool // trusts the server's certificate when TLS is set

	opts    Options
	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed and replaced on every new message
}

// Message is one captured email, parsed.
type Message struct {
	From          string   // MAIL FROM
	To            []string // RCPT TO
	Raw           []byte   // DATA as received (CRLF line endings)
	Header        mail.Header
	Subject       string // decoded (RFC 2047)
	Text          string // decoded text/plain part, LF line endings
	HTML          string // decoded text/html part, LF line endings
	TLS           bool   // the session was protected by TLS
	Authenticated string // username of AUTH PLAIN, "" when none
}

// Start runs a plain server (no TLS, no AUTH) until the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith runs a server configured by opts until the test ends.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, arrived: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{server: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = 4 << 20
	srv.MaxRecipients = 10
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.RootCAs = pool
	} else {
		srv.AllowInsecureAuth = true // loopback only; the client decides
	}
	var ln net.Listener = listen(t)
	s.Addr = ln.Addr().String()
	if opts.TLS && opts.Implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages returns a copy of everything received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor returns the latest message to address (case-insensitive),
// waiting for one to arrive until ctx ends.
func (s *Server) WaitFor(ctx context.Context, address string) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			for _, to := range s.msgs[i].To {
				if strings.EqualFold(to, address) {
					m := s.msgs[i]
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("testsmtp: no message to %s: %w", address, ctx.Err())
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

type session struct {
	server *Server
	conn   *smtp.Conn
	user   string
	from   string
	to     []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (s *session) AuthMechanisms() []string {
	if s.server.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.server.opts.Username || password != s.server.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Invalid credentials"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.opts.Username != "" && s.user == "" {
		return errAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := s.server.opts.RcptError; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparsable message: " + err.Error()}
	}
	m.From, m.To, m.Authenticated = s.from, append([]string(nil), s.to...), s.user
	_, m.TLS = s.conn.TLSConnectionState()
	s.server.add(m)
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// Parse reads a raw message: headers with net/mail, the subject with
// mime.WordDecoder, the body as text/plain or multipart/alternative (parts
// decoded from quoted-printable or base64 by mime/multipart).
func Parse(raw []byte) (Message, error) {
	mm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: mm.Header}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(mm.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(mm.Header.Get("Content-Type"))
	if err != nil {
		return Message{}, fmt.Errorf("content-type: %w", err)
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		mr := multipart.NewReader(mm.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return Message{}, err
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return Message{}, err
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			switch pt {
			case "text/plain":
				m.Text = lf(body)
			case "text/html":
				m.HTML = lf(body)
			}
		}
	case mediaType == "text/plain":
		body, err := io.ReadAll(decode(mm.Header.Get("Content-Transfer-Encoding"), mm.Body))
		if err != nil {
			return Message{}, err
		}
		m.Text = lf(body)
	default:
		return Message{}, fmt.Errorf("unexpected content type %q", mediaType)
	}
	return m, nil
}

func decode(cte string, r io.Reader) io.Reader {
	if strings.EqualFold(cte, "quoted-printable") {
		return quotedprintable.NewReader(r)
	}
	return r
}

func lf(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsmtp: listen: %v", err)
	}
	return ln
}
