package webauthnkit_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// TestSignIn is the README's "Testing your app without a browser" snippet,
// kept here so it compiles and passes.
func TestSignIn(t *testing.T) {
	ctx := context.Background()
	store, _ := memstore.New()
	rp, _ := webauthnkit.New(webauthnkit.Config{RPID: "example.com",
		Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store})
	device := webauthntest.New() // ES256 platform passkey, origin https://example.com

	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := device.Register(begin.Options)
	_, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	login, _ := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	body, _ = device.Login(login.Options, webauthntest.BadSignature()) // or WrongOrigin, WrongChallenge, ...
	_, err = rp.FinishLogin(ctx, login.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
}

// readmeSection returns the README's text from the heading line to the
// next heading of the same level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(data)
	i := strings.Index(readme, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has no %q", heading)
	section := readme[i+1:]
	if j := strings.Index(section[len(heading):], "\n## "); j >= 0 {
		section = section[:len(heading)+j]
	}
	return section
}

// goBlocks returns the ```go blocks of markdown text.
func goBlocks(text string) []string {
	var blocks []string
	for {
		i := strings.Index(text, "```go\n")
		if i < 0 {
			return blocks
		}
		text = text[i+len("```go\n"):]
		j := strings.Index(text, "\n```")
		if j < 0 {
			return blocks
		}
		blocks = append(blocks, text[:j+1])
		text = text[j:]
	}
}

// TestReadmeProgramIsExamplesMinimal: the README's complete program is
// examples/minimal/main.go, byte for byte, so the program a newcomer copies
// is the one that compiles (and whose secret and logging the README
// describes).
func TestReadmeProgramIsExamplesMinimal(t *testing.T) {
	blocks := goBlocks(readmeSection(t, "## A complete program"))
	require.NotEmpty(t, blocks, "no go block in the README's complete program")
	want, err := os.ReadFile("examples/minimal/main.go")
	require.NoError(t, err)
	require.Equal(t, string(want), blocks[0], "README's program differs from examples/minimal/main.go: copy one to the other")
}

// TestReadmeExistingAppExcerpt: every line of the README's excerpt of
// examples/ownsessions is in that program (which its own test runs), so the
// excerpt cannot drift from code that works.
func TestReadmeExistingAppExcerpt(t *testing.T) {
	blocks := goBlocks(readmeSection(t, "## Adding passkeys to an existing app"))
	require.NotEmpty(t, blocks)
	src, err := os.ReadFile("examples/ownsessions/main.go")
	require.NoError(t, err)
	lines := map[string]bool{}
	for _, l := range strings.Split(string(src), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, l := range strings.Split(blocks[0], "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "// ..." {
			continue
		}
		require.True(t, lines[l], "README excerpt line not in examples/ownsessions/main.go: %q", l)
	}
}

// TestReadmeOrder: a newcomer meets, in this order, what it is, the demo,
// the complete program, the tests (one command, the one .ci/run runs), and
// the existing-app guide; backend internals live in docs/.
func TestReadmeOrder(t *testing.T) {
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(data)
	last := -1
	for _, h := range []string{"## Contents", "## Try the demo", "## A complete program", "## Run the tests", "## Adding passkeys to an existing app", "## Backends"} {
		i := strings.Index(readme, "\n"+h+"\n")
		require.Greater(t, i, last, "%q missing or out of order", h)
		last = i
	}
	require.Contains(t, readmeSection(t, "## Run the tests"), "```\nbash scripts/test.sh\n```")
	ci, err := os.ReadFile(".ci/run")
	require.NoError(t, err)
	require.Contains(t, string(ci), "\nbash scripts/test.sh\n", ".ci/run must run exactly the README's test command")
	for _, internal := range []string{"Crash consistency", "Data model and keys", "queue in Go"} {
		require.NotContains(t, readme, internal, "backend internals belong in docs/")
	}
}
