package webauthnkit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// An audit with the application's own evaluation (a model it no longer
// accepts) and quarantine: the model's passkey is refused at login until
// the quarantine is lifted. With an attestation policy and metadata
// (Config.Attestation), leave Evaluate nil to apply them instead.
func ExampleRelyingParty_AuditCredentials() {
	ctx := context.Background()
	store, _ := memstore.New()
	defer store.Close()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store,
		OnEvent: func(_ context.Context, ev webauthnkit.Event) {
			if ev.Type == webauthnkit.EventCredentialQuarantined {
				fmt.Println("event:", ev.Type, ev.Err)
			}
		},
	})
	badModel := [16]byte{0xba, 0xd0}
	key := webauthntest.New(webauthntest.SecurityKey(), webauthntest.WithAAGUID(badModel))
	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := key.Register(begin.Options)
	if _, err := rp.FinishRegistration(ctx, begin.CeremonyID, body); err != nil {
		panic(err)
	}

	report, err := rp.AuditCredentials(ctx, webauthnkit.AuditRequest{
		Quarantine: true,
		Evaluate: func(_ context.Context, c webauthnkit.Credential) (webauthnkit.AuditVerdict, error) {
			if bytes.Equal(c.AAGUID, badModel[:]) {
				return webauthnkit.AuditVerdict{Trust: "untrusted", Refuse: true, Reason: "model withdrawn"}, nil
			}
			return webauthnkit.AuditVerdict{Trust: "trusted"}, nil
		},
	})
	fmt.Printf("scanned %d, quarantined %d, err %v\n", report.Scanned, report.Quarantined, err)

	begin, _ = rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	body, _ = key.Login(begin.Options)
	_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
	fmt.Println(errors.Is(err, webauthnkit.ErrCredentialQuarantined))
	// Output:
	// event: credential.quarantined webauthnkit: credential_quarantined: audit: model withdrawn
	// scanned 1, quarantined 1, err <nil>
	// true
}
