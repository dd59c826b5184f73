package mail

import (
	"crypto/tls"
	"testing"
	"time"
)

func TestNewSMTPDefaults(t *testing.T) {
	s, err := NewSMTP(SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.TLS != TLSStartTLS || s.cfg.DialTimeout != 5*time.Second || s.cfg.Timeout != 15*time.Second || s.cfg.HelloName != "localhost" {
		t.Errorf("defaults: %+v", s.cfg)
	}
	c := s.tlsConfig()
	if c.ServerName != "smtp.example.com" || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("tls defaults: ServerName=%q MinVersion=%x", c.ServerName, c.MinVersion)
	}
	// The caller's TLSConfig is cloned, never modified.
	mine := &tls.Config{MinVersion: tls.VersionTLS10}
	s, _ = NewSMTP(SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com", TLSConfig: mine})
	if c := s.tlsConfig(); c.MinVersion != tls.VersionTLS12 || mine.MinVersion != tls.VersionTLS10 || mine.ServerName != "" {
		t.Errorf("TLSConfig handling: got %x, caller's now %x %q", c.MinVersion, mine.MinVersion, mine.ServerName)
	}
}
