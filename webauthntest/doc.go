// Package webauthntest is a software WebAuthn authenticator, together with the
// browser side of the ceremonies, for testing relying parties in Go.
//
// An Authenticator takes the options JSON a relying party sends to the
// browser and returns the JSON the browser would send back: what
// credential.toJSON() produces for the result of navigator.credentials.create
// or navigator.credentials.get. Nothing is mocked on the relying party's side,
// so the responses go through the real verification code, and a test (or a
// load generator) drives the same HTTP endpoints a browser would.
//
// # Usage
//
// Pass the options returned by the relying party's begin step to Register or
// Login, and post the result to its finish step:
//
//	device := webauthntest.New(webauthntest.WithOrigin("http://localhost:8080"))
//	response, err := device.Register(creationOptionsJSON) // RegistrationResponseJSON
//	...
//	response, err = device.Login(requestOptionsJSON) // AuthenticationResponseJSON
//
// The options are the WebAuthn Level 3 JSON forms
// (PublicKeyCredentialCreationOptionsJSON and
// PublicKeyCredentialRequestOptionsJSON, as parseCreationOptionsFromJSON
// reads them: challenge, user.id and credential IDs in base64url). They may
// also be wrapped as {"publicKey": {...}}, as HTTP adapters send them and
// go-webauthn's protocol.CredentialCreation and protocol.CredentialAssertion
// marshal. All binary values in responses are unpadded base64url.
//
// # The device
//
// New returns a platform authenticator holding discoverable ES256 credentials,
// with user presence and user verification, "none" attestation, and a
// signature counter that starts at 0 and grows by 1 per assertion. Options
// change this: WithAlgorithm (ES256, EdDSA, RS256, ES384, ES512, PS256),
// WithRSAKeyBits (2048, 3072 or 4096), WithAttestation (none or
// packed self attestation), WithPackedAttestation (packed with an x5c
// chain under a test CA: NewAttestationCA, AttestationCA.NewModel, and
// AttestationModel.MetadataEntry for its FIDO MDS3 entry), WithAAGUID,
// WithUserVerification,
// WithUserPresence, WithBackup (the BE and BS flags), WithCounter,
// WithAttachment, WithTransports, WithResidentKeys and
// WithCredentialIDLength. SyncedPasskey and SecurityKey set several of them
// at once.
//
// The origin written into clientDataJSON is "https://" + the RP ID of the
// options unless WithOrigin sets one; set it for anything else, such as
// "http://localhost:8080". If the options carry no RP ID, the host of the
// configured origin is used, as a browser would.
//
// # Ceremonies
//
// Register honours rp.id, user, challenge, pubKeyCredParams,
// excludeCredentials, authenticatorSelection (attachment, resident key and
// user verification requirements) and the credProps extension, and keeps the
// new credential. Registering a discoverable credential for an RP ID and user
// handle that already have one replaces it, as authenticators do.
//
// Login uses the first credential of allowCredentials that the device holds
// for the RP ID or, when allowCredentials is empty, the first discoverable
// credential for the RP ID in creation order. LoginWith picks a given
// credential, like a browser's account picker. Discoverable credentials
// return their user handle in every assertion.
//
// Where a browser would throw, Register and Login return an error wrapping
// ErrInvalidState, ErrNotAllowed or ErrNotSupported, named after the
// DOMException: a credential of excludeCredentials is on the device, no
// credential is usable, the device cannot meet a requirement of the options,
// or it does not support any of pubKeyCredParams.
//
// # Counters and cloned authenticators
//
// Each credential has its own signature counter. Credentials reports it, and
// SetSignCount sets it, e.g. to make it go backwards. Clone copies the whole
// device, keys and counters included: advance the counter on one copy, log in
// with the other, and the relying party should see a counter that did not
// increase. Clone also accepts options, e.g. to report a credential as backed
// up after it was registered as not yet backed up.
//
// # Negative tests
//
// CallOptions change a single Register or Login call to produce a response a
// correct relying party must reject: BadSignature, TamperAuthenticatorData,
// WrongOrigin, WrongRPID, WrongChallenge, WrongType, OmitUserHandle,
// WithoutUserVerification and WithoutUserPresence. Each changes one thing, and
// does so before signing (except BadSignature and TamperAuthenticatorData,
// which change signed data afterwards), so the check under test is the only
// one that can fail:
//
//	response, err := device.Login(options, webauthntest.WrongOrigin("https://evil.example"))
//
// # Concurrency and reproducibility
//
// An Authenticator is safe for concurrent use, and a Login only holds its
// lock to pick the credential and advance the counter, so one device can
// drive many parallel logins. WithRand makes credential IDs, ES256 and EdDSA
// keys and ECDSA signatures reproducible. RSA keys are generated lazily, only
// when an RS256 credential is registered, as that takes a while.
package webauthntest
