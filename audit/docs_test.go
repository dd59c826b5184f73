package audit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/audit"
)

// docs/monitoring.md documents every field of the audit lines.
func TestDocsListEveryField(t *testing.T) {
	data, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, f := range []string{
		"time", "level", "msg", audit.Message, audit.EventRateLimited,
		audit.FieldEvent, audit.FieldOutcome, audit.FieldCode, audit.FieldUserHandle, audit.FieldUsername,
		audit.FieldCredentialID, audit.FieldDurationMS, audit.FieldKind, audit.FieldClass, audit.FieldBudget,
		audit.FieldClientIP,
	} {
		if !strings.Contains(doc, "| `"+f+"` |") && !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("docs/monitoring.md does not document %q", f)
		}
	}
}
