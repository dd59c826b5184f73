package webauthnkit

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
)

// Bounds of the cause summary in (*Error).Error() for invalid_response.
const (
	maxSummaryType    = 40  // go-webauthn's Type is a short identifier
	maxSummaryDetails = 160 // bytes of go-webauthn's Details kept
	// A run of this many base64, base64url or hex characters is taken for
	// an encoded value (a challenge, an ID, a key) and replaced.
	minBlobRun = 16
)

// causeSummary returns a log-safe summary of a verification failure, or "".
//
// go-webauthn's *protocol.Error has three texts: Type (a fixed identifier
// such as "verification_error"), Details (a fixed sentence, sometimes with
// the text of a parse error or an algorithm name appended) and DevInfo.
// DevInfo echoes client input and secrets of the ceremony ("Expected b
// Value: <challenge> Received b: <challenge>", the received origin), so it
// is never used. Type and Details are whitelisted: Type keeps only
// [a-z0-9_-], Details only printable ASCII, both bounded, and any run of
// 16 or more base64/hex characters in Details is replaced by "[…]".
// Causes of the library's own (an *Error chain) give their Message; other
// error values give nothing but their Go type.
func causeSummary(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		typ := keepOnly(pe.Type, maxSummaryType, func(r byte) bool {
			return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		})
		det := safeText(pe.Details)
		switch {
		case typ != "" && det != "":
			return typ + ": " + det
		case typ != "":
			return typ
		default:
			return det
		}
	}
	var own *Error
	if errors.As(err, &own) {
		if own.Message == "" {
			return string(own.Code)
		}
		return string(own.Code) + ": " + safeText(own.Message)
	}
	if err == nil {
		return ""
	}
	return typeName(err)
}

// safeText returns s as printable ASCII, encoded values replaced, cut to
// maxSummaryDetails bytes. Values are replaced before the cut, so that no
// piece of one survives at the end.
func safeText(s string) string {
	s = scrubBlobs(keepOnly(s, 16*maxSummaryDetails, func(r byte) bool { return r >= 0x20 && r < 0x7f }))
	if len(s) <= maxSummaryDetails {
		return s
	}
	cut := maxSummaryDetails
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// keepOnly returns s cut to at most n bytes (marked with "…" when cut) with
// every byte that fails ok replaced by '?'. Multi-byte characters become
// '?' too (each of their bytes fails an ASCII predicate).
func keepOnly(s string, n int, ok func(byte) bool) string {
	cut := false
	if len(s) > n {
		s, cut = s[:n], true
	}
	var b strings.Builder
	b.Grow(len(s) + 3)
	for i := 0; i < len(s); {
		if s[i] >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteByte('?')
			i += size
			continue
		}
		if ok(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('?')
		}
		i++
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

func isBlobByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_' || c == '='
}

// scrubBlobs replaces every run of at least minBlobRun base64, base64url or
// hex characters with "[…]". Words of a sentence are far shorter; encoded
// challenges, IDs and keys far longer.
func scrubBlobs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isBlobByte(s[j]) {
			j++
		}
		switch {
		case j-i >= minBlobRun:
			b.WriteString("[…]")
		case j > i:
			b.WriteString(s[i:j])
		default:
			b.WriteByte(s[i])
			j++
		}
		i = j
	}
	return b.String()
}

// typeName names err's dynamic type ("*json.SyntaxError"), without its text.
func typeName(err error) string {
	return "cause " + keepOnly(fmt.Sprintf("%T", err), maxSummaryType, func(r byte) bool { return r > 0x20 && r < 0x7f })
}
