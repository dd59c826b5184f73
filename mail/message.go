package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Size bounds: a message is built in memory, so every part is capped.
const (
	MaxAddressBytes = 254     // RFC 5321 path limit
	MaxSubjectBytes = 512     // long enough for any real subject
	MaxBodyBytes    = 1 << 20 // per part (Text, HTML)
	MaxHeaders      = 16
	MaxHeaderBytes  = 900 // per value; name + value stay under RFC 5322's 998
)

// reservedHeaders are written by this package; Message.Headers cannot set them.
var reservedHeaders = []string{"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Sender", "Reply-To", "Return-Path"}

// parseAddress validates one address, refusing CR/LF (header injection)
// before net/mail sees it, since net/mail accepts folded whitespace.
func parseAddress(field, s string) (*mail.Address, error) {
	if s == "" {
		return nil, invalidMessage(field, "empty")
	}
	if len(s) > MaxAddressBytes*2 {
		return nil, invalidMessage(field, "too long")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, invalidMessage(field, "contains CR, LF or NUL")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return nil, invalidMessage(field, "not an address")
	}
	if len(addr.Address) > MaxAddressBytes {
		return nil, invalidMessage(field, "address too long")
	}
	return addr, nil
}

// validate checks msg and returns its parsed recipient.
func (msg Message) validate() (*mail.Address, error) {
	to, err := parseAddress("To", msg.To)
	if err != nil {
		return nil, err
	}
	if msg.Subject == "" {
		return nil, invalidMessage("Subject", "empty")
	}
	if err := checkHeaderValue("Subject", msg.Subject, MaxSubjectBytes); err != nil {
		return nil, err
	}
	if msg.Text == "" {
		return nil, invalidMessage("Text", "empty (a plain-text part is required)")
	}
	for field, body := range map[string]string{"Text": msg.Text, "HTML": msg.HTML} {
		if len(body) > MaxBodyBytes {
			return nil, invalidMessage(field, fmt.Sprintf("larger than %d bytes", MaxBodyBytes))
		}
		if !utf8.ValidString(body) {
			return nil, invalidMessage(field, "not UTF-8")
		}
	}
	if len(msg.Headers) > MaxHeaders {
		return nil, invalidMessage("Headers", fmt.Sprintf("more than %d", MaxHeaders))
	}
	for name, value := range msg.Headers {
		if !validFieldName(name) {
			return nil, invalidMessage("Headers", "invalid field name")
		}
		if slices.Contains(reservedHeaders, textproto.CanonicalMIMEHeaderKey(name)) {
			return nil, invalidMessage("Headers", name+" is written by the mailer")
		}
		if err := checkHeaderValue("Headers["+name+"]", value, MaxHeaderBytes); err != nil {
			return nil, err
		}
	}
	return to, nil
}

func checkHeaderValue(field, value string, limit int) error {
	if len(value) > limit {
		return invalidMessage(field, fmt.Sprintf("longer than %d bytes", limit))
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return invalidMessage(field, "contains CR, LF or NUL")
	}
	if !utf8.ValidString(value) {
		return invalidMessage(field, "not UTF-8")
	}
	return nil
}

// validFieldName: RFC 5322 ftext, printable ASCII except colon.
func validFieldName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// encodeHeader RFC 2047-encodes a value only when it is not plain ASCII.
func encodeHeader(value string) string {
	return mime.QEncoding.Encode("utf-8", value)
}

// fold puts each RFC 2047 encoded-word of a header on its own line, so a
// long non-ASCII subject or display name never exceeds the 998-octet line
// limit (the whitespace between encoded-words is ignored when decoding).
func fold(value string) string {
	return strings.ReplaceAll(value, "?= =?", "?=\r\n =?")
}

// build renders msg as an RFC 5322 message with CRLF line endings. msg must
// have been validated.
func (msg Message) build(from, to *mail.Address, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	header := func(name, value string) { buf.WriteString(name + ": " + fold(value) + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", encodeHeader(msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(from.Address))
	header("MIME-Version", "1.0")
	names := make([]string, 0, len(msg.Headers))
	for name := range msg.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic output
	for _, name := range names {
		header(textproto.CanonicalMIMEHeaderKey(name), encodeHeader(msg.Headers[name]))
	}

	if msg.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		if err := writeQP(&buf, msg.Text); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	buf.WriteString("\r\n")
	for _, part := range []struct{ contentType, content string }{
		{"text/plain; charset=utf-8", msg.Text}, // least preferred first (RFC 2046 5.1.4)
		{"text/html; charset=utf-8", msg.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, part.content); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	buf.Write(body.Bytes())
	return buf.Bytes(), nil
}

// writeQP writes s quoted-printable: lines stay under 76 characters and
// line breaks become CRLF, so no line can exceed SMTP's 1000-octet limit.
func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// messageID makes a unique Message-ID in the sender's domain.
func messageID(fromAddress string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	domain := "localhost"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 && at < len(fromAddress)-1 {
		domain = fromAddress[at+1:]
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}
