package webauthnkit

import "encoding/json"

// CeremonyDataJSON turns the data of a ceremony record (the record without
// its MAC tag) into JSON, and CeremonyDataFromJSON back, so the external
// tests can forge records the way someone with the store's contents could.
func CeremonyDataJSON(data []byte) ([]byte, error) {
	st, err := decodeCeremony(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

func CeremonyDataFromJSON(js []byte) ([]byte, error) {
	var st ceremonyState
	if err := json.Unmarshal(js, &st); err != nil {
		return nil, err
	}
	return encodeCeremony(&st)
}

// CeremonyMACSize is the length of a record's MAC tag.
const CeremonyMACSize = ceremonyMACSize
