package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// TLSMode says how the SMTP connection is protected.
type TLSMode int

const (
	// TLSStartTLS (the default) connects in plain text and requires the
	// server to offer STARTTLS before anything else is sent (submission on
	// port 587). A server that does not offer it is an error, never a
	// silent downgrade.
	TLSStartTLS TLSMode = iota
	// TLSImplicit speaks TLS from the first byte (submissions, port 465).
	TLSImplicit
	// TLSNone sends everything in plain text. Allowed only when Addr's host
	// is a loopback address or "localhost" (a local relay or test server).
	TLSNone
)

func (m TLSMode) String() string {
	switch m {
	case TLSStartTLS:
		return "starttls"
	case TLSImplicit:
		return "implicit"
	case TLSNone:
		return "none"
	}
	return "unknown"
}

// SMTPConfig configures NewSMTP. Zero values take the documented defaults.
type SMTPConfig struct {
	// Addr is the submission server, "host:port". Required.
	Addr string
	// From is the sender, "noreply@example.com" or "App <noreply@example.com>".
	// Required.
	From string
	// Username and Password enable AUTH PLAIN; empty Username disables AUTH.
	// The password is sent only over TLS (or to loopback with TLSNone).
	Username string
	Password string
	// TLS is the protection mode. Default TLSStartTLS.
	TLS TLSMode
	// TLSConfig is cloned for the TLS handshake; ServerName defaults to Addr's
	// host. Default: system roots, TLS 1.2 minimum. Tests set RootCAs here.
	TLSConfig *tls.Config
	// DialTimeout bounds establishing the TCP connection (and, for
	// TLSImplicit, the handshake). Default 5 s.
	DialTimeout time.Duration
	// Timeout bounds one whole Send, dial included: a server that accepts the
	// connection and then stops answering cannot hold the caller longer.
	// A ctx deadline that comes earlier wins. Default 15 s.
	Timeout time.Duration
	// HelloName is the name sent in EHLO. Default "localhost".
	HelloName string
}

// Defaults for SMTPConfig.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultSMTPTimeout = 15 * time.Second
	DefaultHelloName   = "localhost"
)

// SMTP is a Mailer that submits each message over a new SMTP connection.
// It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	host string
	from *mail.Address
	now  func() time.Time
}

// NewSMTP validates cfg and returns an SMTP mailer. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Addr == "" {
		return nil, &ConfigError{"Addr", "required"}
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, &ConfigError{"Addr", "must be host:port"}
	}
	if cfg.From == "" {
		return nil, &ConfigError{"From", "required"}
	}
	from, err := parseAddress("From", cfg.From)
	if err != nil {
		return nil, &ConfigError{"From", "not a single address without CR/LF"}
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(host) {
			return nil, &ConfigError{"TLS", "TLSNone is allowed only for a loopback host (plain text would expose the messages and the password)"}
		}
	default:
		return nil, &ConfigError{"TLS", "unknown mode"}
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, &ConfigError{"Username", "required when Password is set"}
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\x00") {
		return nil, &ConfigError{"Username", "Username and Password must not contain NUL"}
	}
	if cfg.DialTimeout < 0 {
		return nil, &ConfigError{"DialTimeout", "negative"}
	}
	if cfg.Timeout < 0 {
		return nil, &ConfigError{"Timeout", "negative"}
	}
	if strings.ContainsAny(cfg.HelloName, " \r\n\x00") {
		return nil, &ConfigError{"HelloName", "contains whitespace or NUL"}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.HelloName == "" {
		cfg.HelloName = DefaultHelloName
	}
	return &SMTP{cfg: cfg, host: host, from: from, now: time.Now}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *SMTP) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Send submits msg. The whole exchange is bounded by cfg.Timeout or ctx's
// deadline, whichever comes first; cancelling ctx aborts it.
func (s *SMTP) Send(ctx context.Context, msg Message) error {
	to, err := msg.validate()
	if err != nil {
		return err
	}
	data, err := msg.build(s.from, to, s.now())
	if err != nil {
		return invalidMessage("body", err.Error())
	}

	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	conn, err := s.dial(ctx, deadline)
	if err != nil {
		return &SendError{Step: "dial", Err: withCtx(ctx, err)}
	}
	defer conn.Close()
	// When ctx ends (the deadline above, or cancellation), moving the raw
	// connection's deadline to the past makes any blocked read or write
	// return, including those through the TLS layer STARTTLS adds on top;
	// ctx.Err() is then already set, so the error reports it. The absolute
	// deadline (plus a grace) is a backstop should the callback run late.
	if err := conn.SetDeadline(deadline.Add(time.Second)); err != nil {
		return &SendError{Step: "dial", Err: err}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	step := "greeting"
	fail := func(err error) error { return classify(ctx, step, err) }
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fail(err)
	}
	defer c.Close()

	step = "hello"
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fail(err)
	}
	if s.cfg.TLS == TLSStartTLS {
		step = "starttls"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail(errors.New("server does not offer STARTTLS (required by SMTPConfig.TLS)"))
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fail(err)
		}
	}
	if s.cfg.Username != "" {
		step = "auth"
		// smtp.PlainAuth itself refuses to send the password unencrypted to a
		// host other than localhost: a second guard behind NewSMTP's check.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return fail(err)
		}
	}
	step = "mail"
	if err := c.Mail(s.from.Address); err != nil {
		return fail(err)
	}
	step = "rcpt"
	if err := c.Rcpt(to.Address); err != nil {
		return fail(err)
	}
	step = "data"
	w, err := c.Data()
	if err != nil {
		return fail(err)
	}
	if _, err := w.Write(data); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil { // sends "." and reads the final reply
		return fail(err)
	}
	// The message is accepted once the reply to "." arrives; a failed QUIT
	// does not undo that, so its error is ignored.
	_ = c.Quit()
	return nil
}

func (s *SMTP) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	d := &net.Dialer{Deadline: deadline}
	if s.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
		return td.DialContext(dialCtx, "tcp", s.cfg.Addr)
	}
	return d.DialContext(dialCtx, "tcp", s.cfg.Addr)
}

// classify wraps err from step into a SendError carrying the reply code.
func classify(ctx context.Context, step string, err error) error {
	se := &SendError{Step: step, Err: withCtx(ctx, err)}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		se.Code = tp.Code
		se.Permanent = tp.Code >= 500 && tp.Code < 600
	}
	return se
}

// withCtx reports the context's error (deadline or cancellation) alongside
// the network error it caused, so errors.Is(err, context.DeadlineExceeded)
// holds when the Send deadline expired.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
