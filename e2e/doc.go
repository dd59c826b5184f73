// Package e2e holds the browser end-to-end tests of webauthnkit: the example
// app (examples/passkeys) started in-process at http://localhost:<port>, driven
// through chromedp in headless Chromium with DevTools virtual authenticators
// (WebAuthn.addVirtualAuthenticator: CTAP2.1, resident keys, user
// verification, automatic presence).
//
// Run them with
//
//	go test ./e2e
//
// They need Chromium: /usr/bin/chromium (Debian: apt-get install -y
// chromium, which scripts/services.sh does), or the binary named by
// $WEBAUTHNKIT_CHROMIUM. Without one they skip, except under CI=true, where
// they fail. Screenshots of the pages (PNG) are written to
// $WEBAUTHNKIT_ARTIFACTS, default e2e/artifacts (git-ignored).
//
// What is covered, and how conditional mediation (passkey autofill) is
// driven, is described on TestPasskeys and newTab; the email and recovery
// flows, read from a loopback SMTP server's capture, on TestRecovery; the
// attestation policy (monitor logs the browser's real attestation, enforce
// refuses it and the page says so) on TestAttestation.
package e2e
