package webauthnkit

// CheckCredentialKey exposes the key check to the external benchmarks.
func CheckCredentialKey(cose []byte, allowed []Algorithm) (Algorithm, error) {
	return checkCredentialKey(cose, allowed)
}
