package webauthnkit

// CheckCredentialKey exposes the key check to the external benchmarks.
func CheckCredentialKey(cose []byte, allowed []Algorithm) (Algorithm, error) {
	return checkCredentialKey(cose, allowed)
}

// EffectiveConfig exposes the validated Config (defaults filled in) to the
// external tests; applications have the accessors (RPID, Origins, ...).
func EffectiveConfig(rp *RelyingParty) Config { return rp.cfg }
