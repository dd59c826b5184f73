package webauthnkit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// NormalizeUsername returns the canonical form of a sign-in name as stored,
// or ErrInvalidRequest.
//
// The name is trimmed, then enforced with the PRECIS UsernameCaseMapped
// profile (RFC 8265): full- and half-width forms folded, lower-cased, NFC.
// PRECIS refuses spaces, symbols and emoji, control and invisible
// (default-ignorable) characters, fillers such as U+3164, and characters with
// a compatibility decomposition (ligatures, mathematical letters) instead of
// folding them. The result must have at most MaxNameLength characters.
//
// On top of PRECIS, a name must be "highly restrictive" in the sense of
// UTS #39 (section 5.2): its letters come from one script,
// or from Latin with Han+Hiragana+Katakana, Han+Bopomofo or Han+Hangul.
// ASCII digits and punctuation and combining marks (Common and Inherited)
// go with any script; other digits count as their script's. So "аlice" with a Cyrillic "а" is refused, while
// "алиса", "山田たろう", "김민준", "straße" and "alice@example.com" pass.
func NormalizeUsername(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", &Error{Code: CodeInvalidRequest, Message: "username is not valid UTF-8"}
	}
	if name == "" {
		return "", &Error{Code: CodeInvalidRequest, Message: "username is required"}
	}
	// Bound the work on hostile input before the PRECIS transforms; folding
	// and NFC never shrink a name to a quarter of its length.
	if utf8.RuneCountInString(name) > 4*MaxNameLength {
		return "", &Error{Code: CodeInvalidRequest, Message: "username is too long"}
	}
	n, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", &Error{Code: CodeInvalidRequest, Message: "username may only contain letters, digits and punctuation (no spaces, symbols or invisible characters)", Err: err}
	}
	if err := checkText("username", n, true, MaxNameLength); err != nil {
		return "", err
	}
	if err := checkScripts(n); err != nil {
		return "", err
	}
	n = dropDotAboveSoftDotted(n)
	if err := checkCombiningMarks(n); err != nil {
		return "", err
	}
	return n, nil
}

// maxMarksPerLetter bounds the combining marks on one letter (UTS #39
// section 5.4); real names in any script need fewer.
const maxMarksPerLetter = 4

// dropDotAboveSoftDotted removes a combining dot above (U+0307) from a
// soft-dotted letter (i, j, Cyrillic і, ј, ...), which already shows a dot:
// "i\u0307" displays as "i", and "İstanbul" lower-cases to
// "i\u0307stanbul", which would otherwise be a twin of "istanbul" (browsers
// refuse it in domain names for that reason). Dropping it makes both the
// same name, as Turkish lower-casing would.
func dropDotAboveSoftDotted(name string) string {
	if !strings.ContainsRune(name, '\u0307') {
		return name
	}
	var b strings.Builder
	var base rune
	for _, r := range norm.NFD.String(name) {
		if r == '\u0307' && unicode.Is(unicode.Soft_Dotted, base) {
			continue
		}
		if !unicode.Is(unicode.Mn, r) {
			base = r
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// checkCombiningMarks refuses mark sequences that make a name display like
// another, which PRECIS and the script rule let through (marks are of the
// Inherited script): the same mark twice on one letter (many fonts draw it
// once) and more than maxMarksPerLetter marks on one letter (UTS #39
// section 5.4). It looks at the NFD form, where NFC's precomposed letters
// show their marks.
func checkCombiningMarks(name string) error {
	var last rune
	marks := 0
	for _, r := range norm.NFD.String(name) {
		if !unicode.Is(unicode.Mn, r) {
			last, marks = 0, 0
			continue
		}
		marks++
		if r == last || marks > maxMarksPerLetter {
			return &Error{Code: CodeInvalidRequest, Message: "username has combining marks that make it look like another name"}
		}
		last = r
	}
	return nil
}

// Scripts that UTS #39's highly restrictive level lets mix.
const (
	scriptLatin = 1 << iota
	scriptHan
	scriptHiragana
	scriptKatakana
	scriptBopomofo
	scriptHangul
	scriptOther // any other script; two different ones never mix
)

// mixableScripts are the script sets UTS #39 allows in one identifier besides
// a single script.
var mixableScripts = [...]int{
	scriptLatin | scriptHan | scriptHiragana | scriptKatakana, // Japanese
	scriptLatin | scriptHan | scriptBopomofo,                  // Chinese
	scriptLatin | scriptHan | scriptHangul,                    // Korean
}

// checkScripts refuses a name whose letters come from scripts that do not
// belong together (UTS #39 highly restrictive), the mark of look-alike names
// such as "pаypal" with a Cyrillic "а" or "αlice" with a Greek alpha.
// Characters of the Common and Inherited scripts (ASCII digits and
// punctuation, combining marks, the Japanese prolonged sound mark) go with
// any script.
func checkScripts(name string) error {
	seen, other := 0, ""
	for _, r := range name {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				seen |= scriptLatin
			}
			continue // ASCII digits and punctuation are Common
		}
		switch s := scriptOf(r); s {
		case "Common", "Inherited", "":
		case "Latin":
			seen |= scriptLatin
		case "Han":
			seen |= scriptHan
		case "Hiragana":
			seen |= scriptHiragana
		case "Katakana":
			seen |= scriptKatakana
		case "Bopomofo":
			seen |= scriptBopomofo
		case "Hangul":
			seen |= scriptHangul
		default:
			if other != "" && other != s {
				return mixedScripts()
			}
			other = s
			seen |= scriptOther
		}
	}
	if seen&(seen-1) == 0 { // at most one script
		return nil
	}
	for _, allowed := range mixableScripts {
		if seen&^allowed == 0 {
			return nil
		}
	}
	return mixedScripts()
}

func mixedScripts() error {
	return &Error{Code: CodeInvalidRequest, Message: "username mixes letters of different scripts (e.g. Latin and Cyrillic)"}
}

// scriptRange maps the code points lo..hi to a script.
type scriptRange struct {
	lo, hi rune
	script string
}

// scriptRanges is every range of unicode.Scripts in one sorted slice (about
// 2,200 entries, built on first use), so that finding a character's script
// costs one binary search rather than one per script: hostile names made of
// rare scripts stay as cheap as Latin ones.
var scriptRanges = sync.OnceValue(func() []scriptRange {
	var out []scriptRange
	add := func(lo, hi, stride rune, script string) {
		if stride == 1 {
			out = append(out, scriptRange{lo, hi, script})
			return
		}
		for r := lo; r <= hi; r += stride {
			out = append(out, scriptRange{r, r, script})
		}
	}
	for script, table := range unicode.Scripts {
		for _, r := range table.R16 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride), script)
		}
		for _, r := range table.R32 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride), script)
		}
	}
	slices.SortFunc(out, func(a, b scriptRange) int { return cmp.Compare(a.lo, b.lo) })
	return out
})

// scriptOf returns the Unicode Script property of r, or "" if unassigned.
func scriptOf(r rune) string {
	ranges := scriptRanges()
	i, _ := slices.BinarySearchFunc(ranges, r, func(s scriptRange, r rune) int { return cmp.Compare(s.lo, r) })
	// ranges[i] is the first range starting at or after r.
	if i < len(ranges) && ranges[i].lo == r {
		return ranges[i].script
	}
	if i > 0 && r <= ranges[i-1].hi {
		return ranges[i-1].script
	}
	return ""
}

// Limits on user-supplied text, in characters (runes) after trimming.
const (
	// MaxNameLength bounds sign-in names (User.Name): 254 characters, the
	// longest email address that can be delivered (RFC 5321's 256-octet
	// path minus its angle brackets), so that an application can use its
	// users' email addresses as names.
	MaxNameLength = 254
	// MaxDisplayNameLength bounds display names (User.DisplayName) and
	// passkey names (Credential.Name): 64 characters, the length the
	// WebAuthn specification lets authenticators truncate user.displayName
	// to (§5.4.3, in bytes there; longer labels are cut in account
	// pickers anyway).
	MaxDisplayNameLength = 64
)

// MaxUserHandleLength is the longest user handle (User.Handle) WebAuthn
// allows: 64 bytes (§5.4.3).
const MaxUserHandleLength = 64

func checkText(field, s string, required bool, maxLen int) error {
	if !utf8.ValidString(s) {
		return &Error{Code: CodeInvalidRequest, Message: field + " is not valid UTF-8"}
	}
	if required && s == "" {
		return &Error{Code: CodeInvalidRequest, Message: field + " is required"}
	}
	if utf8.RuneCountInString(s) > maxLen {
		return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%s is too long (at most %d characters)", field, maxLen)}
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || isBidiControl(r) || r == '\u2028' || r == '\u2029' {
			return &Error{Code: CodeInvalidRequest, Message: field + " contains control characters"}
		}
		// Invisible format characters (zero-width space, soft hyphen, ...)
		// would let "alice\u200b" pass for "alice". Display names keep the
		// zero-width joiner of emoji sequences.
		if required && unicode.Is(unicode.Cf, r) {
			return &Error{Code: CodeInvalidRequest, Message: field + " contains invisible characters"}
		}
	}
	return nil
}

// isBidiControl reports the explicit bidirectional formatting characters,
// which can make a name display as another ("\u202eecila").
func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c'
}

// cleanText trims and NFC-normalises a display name or passkey name and
// checks it (at most MaxDisplayNameLength characters, no control or
// bidirectional formatting characters).
func cleanText(field, s string) (string, error) {
	// Bound the work before NFC on hostile input, as NormalizeUsername does.
	if utf8.RuneCountInString(s) > 4*MaxNameLength {
		return "", &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%s is too long (at most %d characters)", field, MaxDisplayNameLength)}
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	return s, checkText(field, s, false, MaxDisplayNameLength)
}

// defaultDisplayName is the display name of an account created without
// one: the name as typed (trimmed, NFC), cut to MaxDisplayNameLength
// characters, since a name may be longer than a display name.
func defaultDisplayName(typed string) (string, error) {
	s := norm.NFC.String(strings.TrimSpace(typed))
	if r := []rune(s); len(r) > MaxDisplayNameLength {
		s = strings.TrimSpace(string(r[:MaxDisplayNameLength]))
	}
	return s, checkText("display name", s, false, MaxDisplayNameLength)
}
