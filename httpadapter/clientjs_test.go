package httpadapter_test

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// TestClientJSUpgradeAndUpdateUser runs client.js in Node with stubbed
// browser APIs: upgrade() does nothing without conditionalCreate and calls
// create({mediation: "conditional"}) with it; updateUser() passes the
// server's details to signalCurrentUserDetails.
func TestClientJSUpgradeAndUpdateUser(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "Node.js", "PATH", err, "apt-get install -y nodejs")
	}
	out, err := exec.Command(node, "testdata/client_upgrade.js", "client.js").Output()
	require.NoError(t, err, "%s", out)
	var got struct {
		Unsupported    any              `json:"unsupported"`
		UnsupportedLog []map[string]any `json:"unsupportedLog"`
		Supported      map[string]any   `json:"supported"`
		SupportedLog   []map[string]any `json:"supportedLog"`
		UpdateLog      []map[string]any `json:"updateLog"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)

	require.Nil(t, got.Unsupported)
	require.Empty(t, got.UnsupportedLog, "no request, no prompt without conditionalCreate")

	require.NotNil(t, got.Supported)
	require.Len(t, got.SupportedLog, 3, "%v", got.SupportedLog)
	require.Equal(t, map[string]any{"url": "/passkeys/registration/begin", "method": "POST", "body": map[string]any{"conditional": true}}, got.SupportedLog[0]["fetch"])
	require.Equal(t, map[string]any{"mediation": "conditional"}, got.SupportedLog[1]["create"])
	require.Equal(t, "/passkeys/registration/finish", got.SupportedLog[2]["fetch"].(map[string]any)["url"])

	require.Len(t, got.UpdateLog, 2, "%v", got.UpdateLog)
	require.Equal(t, "PATCH", got.UpdateLog[0]["fetch"].(map[string]any)["method"])
	require.Equal(t, "signalCurrentUserDetails", got.UpdateLog[1]["signal"])
	require.Equal(t, map[string]any{"rpId": "example.com", "userId": "dQ", "name": "new@example.com", "displayName": "New"}, got.UpdateLog[1]["arg"])
}
