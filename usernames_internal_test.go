package webauthnkit

import (
	"testing"
	"unicode"
)

// scriptOf agrees with unicode.Scripts on every code point that has a
// script, and says "" for a few that have none.
func TestScriptOf(t *testing.T) {
	check := func(lo, hi, stride rune, script string) {
		for r := lo; r <= hi; r += stride {
			if got := scriptOf(r); got != script {
				t.Fatalf("scriptOf(%U) = %q, want %q", r, got, script)
			}
		}
	}
	for script, table := range unicode.Scripts {
		for _, r := range table.R16 {
			check(rune(r.Lo), rune(r.Hi), rune(r.Stride), script)
		}
		for _, r := range table.R32 {
			check(rune(r.Lo), rune(r.Hi), rune(r.Stride), script)
		}
	}
	for _, r := range []rune{0x0378, 0x0530, 0xd800, 0x2fffd, unicode.MaxRune} {
		if got := scriptOf(r); got != "" {
			t.Errorf("scriptOf(%U) = %q, want none", r, got)
		}
	}
}
