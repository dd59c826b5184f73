package webauthnkit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
)

// Invisible and look-alike names are refused (issue 11, item 6); real names
// in many scripts keep working.
func TestUsernamesPRECISAndScripts(t *testing.T) {
	refused := map[string]string{
		"alice\u3164":          "Hangul filler",
		"alice\u115f":          "Hangul choseong filler",
		"alice\u1160":          "Hangul jungseong filler",
		"alice\uffa0":          "halfwidth Hangul filler",
		"alice\u2800":          "Braille blank",
		"ali\u034fce":          "combining grapheme joiner",
		"alice\u17b5":          "Khmer inherent vowel (invisible)",
		"\u3164":               "only a filler",
		"\u0430lice":           "Cyrillic а among Latin letters",
		"p\u0430ypal":          "Cyrillic а inside a Latin name",
		"\u0430\u0440\u0440le": "Cyrillic арр + Latin le",
		"\u03b1lice":           "Greek alpha + Latin",
		"ale\u03bexis":         "Latin + Greek xi",
		"\u03b1\u0432":         "Greek + Cyrillic",
		"alice smith":          "space (PRECIS identifiers have none)",
		"alice\u00a0b":         "no-break space",
		"alice\u200b":          "zero-width space",
		"\U0001F600ok":         "emoji",
		"\ufb01sh":             "ligature (compatibility character)",
		"\U0001d41aaa":         "mathematical bold a",
		"\u05d0alice":          "Hebrew + Latin",
		"\u0627alice":          "Arabic + Latin",
		"\uac00\u3042":         "Hangul + Hiragana",
		"\u0e01\u0430":         "Thai + Cyrillic",
		"alice\u0661":          "Arabic-Indic digit in a Latin name",
	}
	for name, why := range refused {
		n, err := webauthnkit.NormalizeUsername(name)
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%s: %q accepted as %q", why, name, n)
	}

	accepted := map[string]string{
		"alice":                       "alice",
		" Alice ":                     "alice",
		"ＡＬＩＣＥ":                       "alice", // full-width folded
		"alice@example.com":           "alice@example.com",
		"Alice.Smith+tag@Example.org": "alice.smith+tag@example.org",
		"o'brien":                     "o'brien",
		"jean-luc_2":                  "jean-luc_2",
		"Straße":                      "straße",
		"müller":                      "müller",
		"mu\u0308ller":                "müller", // NFC
		"Ἀλέξανδρος":                  "ἀλέξανδρος",
		"алиса":                       "алиса", // whole-script Cyrillic is one script
		"山田たろう":                       "山田たろう",
		"ヤマダ・タロウ":                     "ヤマダ・タロウ",
		"ｽｽﾞｷ":                        "スズキ",  // half-width katakana folded
		"らーめん":                        "らーめん", // prolonged sound mark is Common
		"田中taro":                      "田中taro",
		"김민준":                         "김민준",
		"金민준":                         "金민준", // Han + Hangul
		"王小明":                         "王小明",
		"ㄅㄆㄇ中文":                       "ㄅㄆㄇ中文", // Bopomofo + Han
		"محمد":                        "محمد",
		"محمد١٢":                      "محمد١٢",
		"محمد12":                      "محمد12", // ASCII digits go with every script
		"שלום":                        "שלום",
		"user42":                      "user42",
		"ελένη2":                      "ελένη2",
	}
	for name, want := range accepted {
		n, err := webauthnkit.NormalizeUsername(name)
		if assert.NoError(t, err, "%q", name) {
			assert.Equal(t, want, n, "%q", name)
		}
	}

	// A look-alike cannot sign up next to the real name.
	e := newEnv(t)
	e.signUp(t, "alice")
	for _, name := range []string{"alice\u3164", "\u0430lice", "ALICE", "ａｌｉｃｅ"} {
		_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		require.Error(t, err, "%q", name)
		code := webauthnkit.ErrorCode(err)
		assert.Contains(t, []webauthnkit.Code{webauthnkit.CodeInvalidRequest, webauthnkit.CodeUsernameTaken}, code, "%q", name)
	}
	// Hostile lengths are refused before the PRECIS transforms.
	_, err := webauthnkit.NormalizeUsername(strings.Repeat("a", 100000))
	assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	// Display names keep their looser rules: spaces and emoji stay allowed.
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob", DisplayName: "Bob Smith \U0001F600"})
	require.NoError(t, err)
}

// BenchmarkNormalizeUsername: every login by name pays it before any
// account is found, so hostile names must stay cheap.
func BenchmarkNormalizeUsername(b *testing.B) {
	for _, tc := range []struct{ what, name string }{
		{"ascii", "alice@example.com"},
		{"cyrillic_64", strings.Repeat("ж", 64)},
		{"rare_script_64", strings.Repeat("\U00010480", 64)}, // Osmanya: last in no fast path
		{"hostile_256", strings.Repeat("\u1100", 256)},
		// Names may have MaxNameLength (254) characters; hostile input up to
		// four times that reaches PRECIS, one character more is refused first.
		{"cyrillic_254", strings.Repeat("ж", 254)},
		{"rare_script_254", strings.Repeat("\U00010480", 254)},
		{"hostile_1016", strings.Repeat("\u1100", 4*254)},
		{"hostile_1017_refused", strings.Repeat("\u1100", 4*254+1)},
	} {
		b.Run(tc.what, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = webauthnkit.NormalizeUsername(tc.name)
			}
		})
	}
}

// A normalised name normalises to itself: the stored form typed back at
// login finds the account.
func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"alice", " Alice ", "ＡＬＩＣＥ", "straße", "ｽｽﾞｷ", "mu\u0308ller", "\u0130stanbul", "ᾼ", "ﬀ", "\u3164"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := webauthnkit.NormalizeUsername(name)
		if err != nil {
			require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
			return
		}
		again, err := webauthnkit.NormalizeUsername(n)
		require.NoError(t, err, "%q normalised to %q, which is refused", name, n)
		require.Equal(t, n, again, "%q", name)
	})
}

func TestInvalidNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "   ", strings.Repeat("a", webauthnkit.MaxNameLength+1), "bad\x00name", "tab\tname", string([]byte{0xff, 0xfe})} {
		_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q", name)
	}
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "ok", DisplayName: strings.Repeat("d", 65)})
	assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: strings.Repeat("a", webauthnkit.MaxNameLength+1)})
	assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	n, err := webauthnkit.NormalizeUsername("  Ｊöhn ")
	require.NoError(t, err)
	assert.Equal(t, "jöhn", n, "NFKC folds the full-width J; case is folded")
}

func TestInvisibleCharactersInNames(t *testing.T) {
	for _, name := range []string{"alice\u200b", "\u202eecila", "ad\u00admin", "a\u2028b", "\u2066x"} {
		_, err := webauthnkit.NormalizeUsername(name)
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q", name)
	}
	e := newEnv(t)
	// The default display name goes through the same checks as a given one.
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: strings.Repeat("e\u0301", 64)})
	require.NoError(t, err, "64 characters after NFKC")
	// Emoji sequences with a zero-width joiner stay allowed in display names.
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "family", DisplayName: "\U0001F468\u200D\U0001F469\u200D\U0001F467"})
	require.NoError(t, err)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bidi", DisplayName: "\u202eevil"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}

// Combining marks that leave a name looking like another, which PRECIS and
// the script rule accept. A dot above on a soft-dotted letter ("i\u0307"
// displays as "i"; "İstanbul" lower-cases to "i\u0307stanbul", a twin of
// "istanbul") is dropped, so both are one name; the same mark twice on a
// letter (drawn once by many fonts) and more than four marks on one letter
// (UTS #39 section 5.4) are refused.
func TestLookAlikeCombiningMarksInNames(t *testing.T) {
	for name, want := range map[string]string{
		"ali\u0307ce":              "alice",
		"\u0130stanbul":            "istanbul",
		"\u0135\u0307ohn":          "\u0135ohn", // j with circumflex: the dot goes, the circumflex stays
		"\u0456\u0307\u0432\u0430": "\u0456\u0432\u0430",
		"i\u0323\u0307":            "\u1ecb", // dot below and dot above: ị
	} {
		n, err := webauthnkit.NormalizeUsername(name)
		if assert.NoError(t, err, "%q", name) {
			assert.Equal(t, want, n, "%q", name)
		}
	}
	for name, why := range map[string]string{
		"a\u0301\u0301lice":                "acute twice (NFC composes the first)",
		"alice\u0323\u0323":                "dot below twice",
		"e\u0300\u0301\u0302\u0303\u0304x": "five marks on one letter",
	} {
		n, err := webauthnkit.NormalizeUsername(name)
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%s: %q accepted as %q", why, name, n)
	}
	for _, name := range []string{"nguyễn", "müller", "ἀλέξανδρος", "crème", "ḭi", "क्षत्रिय", "བསྒྲུབས"} {
		_, err := webauthnkit.NormalizeUsername(name)
		assert.NoError(t, err, name)
	}
	// The look-alike signs in to, and cannot sign up next to, the real name.
	e := newEnv(t)
	e.signUp(t, "alice")
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "ali\u0307ce"})
	assert.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)
}
