package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	webmail "github.com/webauthnkit/webauthnkit/mail"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDevelopmentMailerLogsCodeAndWarns(t *testing.T) {
	var buf bytes.Buffer
	m := webmail.NewDevelopment(slog.New(slog.NewJSONHandler(&buf, nil)))
	msg := webmail.Message{To: "ann@example.org", Subject: "Verify", Text: "Your code is 482913.", HTML: "<p>482913</p>"}
	for range 2 {
		if err := m.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per message:\n%s", len(lines), buf.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["level"] != "INFO" || rec["to"] != msg.To || rec["subject"] != msg.Subject || rec["text"] != msg.Text {
			t.Errorf("record %v", rec)
		}
		if s, _ := rec["msg"].(string); !strings.Contains(s, "DEVELOPMENT") || !strings.Contains(s, "never use in production") {
			t.Errorf("log line does not say it is for development only: %q", s)
		}
	}
}

func TestDevelopmentMailerNilLoggerUsesDefault(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	if err := webmail.NewDevelopment(nil).Send(context.Background(), webmail.Message{To: "a@example.org", Subject: "S", Text: "code 1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "code 1") {
		t.Errorf("default logger got %q", buf.String())
	}
}
