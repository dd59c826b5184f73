package webauthnkit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A security-key-only deployment: enforce the FIDO metadata, require
// attestation. Here the metadata is a test BLOB in which the key's model
// has been revoked.
func ExampleAttestationPolicy() {
	ctx := context.Background()
	ca, _ := webauthntest.NewAttestationCA("Example Vendor")
	model, _ := ca.NewModel([16]byte{0xee, 1})
	root, _ := mdstest.NewRoot("Example MDS")
	blob, _ := root.BLOB(1, time.Now().AddDate(0, 1, 0), model.MetadataEntry("Example Key",
		webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}))
	metadata, _ := mds.NewFromReader(bytes.NewReader(blob), mds.Options{Root: root.Cert}) // production: mds.New(ctx, mds.Options{File: ...})

	store, _ := memstore.New()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store,
		Attestation: webauthnkit.AttestationPolicy{
			Mode:               webauthnkit.AttestationEnforce,
			Metadata:           metadata,
			RequireAttestation: true,
		},
		OnEvent: func(_ context.Context, ev webauthnkit.Event) {
			if ev.Attestation != nil {
				fmt.Println("event:", ev.Type, ev.Attestation.Description, ev.Attestation.Reason)
			}
		},
	})
	key := webauthntest.New(webauthntest.SecurityKey(), webauthntest.WithPackedAttestation(model))
	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := key.Register(begin.Options)
	_, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	fmt.Println(errors.Is(err, webauthnkit.ErrAttestationRefused), webauthnkit.ErrorCode(err))
	// Output:
	// event: attestation.revoked Example Key status reports in effect: REVOKED
	// true attestation_refused
}
