package webauthnotel_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The core, the HTTP adapter and the audit log do not import OpenTelemetry
// or Prometheus: only this package (and the demo) does, so an application
// that does not monitor does not compile them.
func TestLightPackagesDoNotImportOTel(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the imports: %v", err)
	}
	for _, pkg := range []string{"..", "../httpadapter", "../audit", "../account"} {
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for dep := range strings.SplitSeq(string(out), "\n") {
			if strings.HasPrefix(dep, "go.opentelemetry.io/") || strings.HasPrefix(dep, "github.com/prometheus/") {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "go.opentelemetry.io/otel/metric\n") {
		t.Fatalf("the check cannot see imports: go list -deps . = %v\n%s", err, out)
	}
}
