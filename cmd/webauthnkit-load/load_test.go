package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInProcessMemstore is a short complete run: sign-up and repeated
// sign-in of a few users over HTTP against the in-process server on
// memstore, with zero errors and a consistent report.
func TestInProcessMemstore(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "results.json")
	chartPath := filepath.Join(dir, "chart.svg")
	var stdout, stderr bytes.Buffer
	code := realMain([]string{
		"-store", "memstore", "-users", "4", "-duration", "700ms", "-warmup", "100ms",
		"-max-logins", "150", "-progress", "200ms", "-json", jsonPath, "-chart", chartPath,
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"logins/s", "login  latency", "finish latency", "errors          0"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.Store != storeMemstore || !r.InProcess || r.Users != 4 || r.LoginMode != loginUsername {
		t.Errorf("run header = %+v", r)
	}
	if r.Errors != 0 || len(r.ErrorSamples) != 0 {
		t.Errorf("errors = %d %q", r.Errors, r.ErrorSamples)
	}
	if r.Signups != 4 {
		t.Errorf("signups = %d, want 4", r.Signups)
	}
	if r.Logins <= 0 || r.Logins > 150 {
		t.Errorf("logins = %d, want 1 to 150 (-max-logins)", r.Logins)
	}
	if r.LoginsPerSec <= 0 || r.Seconds <= 0 || r.Seconds > 30 {
		t.Errorf("rate = %v logins/s over %v s", r.LoginsPerSec, r.Seconds)
	}
	for name, l := range map[string]Latency{"login": r.Login, "begin": r.Begin, "finish": r.Finish} {
		if l.N != int(r.Logins) || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max || l.Mean <= 0 {
			t.Errorf("%s latency = %+v (logins %d)", name, l, r.Logins)
		}
	}
	if r.Login.P50 < r.Finish.P50 {
		t.Errorf("login p50 %v below finish p50 %v", r.Login.P50, r.Finish.P50)
	}
	if r.ProcessCPUPerLoginMs <= 0 {
		t.Errorf("process CPU per login = %v", r.ProcessCPUPerLoginMs)
	}
	// Username login: one of each of these per login (give or take the
	// logins in flight at the window's edges), and no user lookup at finish
	// (BeginLogin already found the account).
	for _, m := range []string{"PutCeremony", "TakeCeremony", "GetUserByName", "ListCredentials", "GetCredential", "UpdateCredentialUse"} {
		if v := r.StoreCallsPerLogin[m]; v < 0.8 || v > 1.2 {
			t.Errorf("%s per login = %v, want about 1 (%v)", m, v, r.StoreCallsPerLogin)
		}
	}
	if v := r.StoreCallsPerLogin["GetUserByHandle"]; v != 0 {
		t.Errorf("GetUserByHandle per login = %v, want 0 (%v)", v, r.StoreCallsPerLogin)
	}
	if rep.Machine.NumCPU < 1 || rep.Machine.GoVersion == "" {
		t.Errorf("machine = %+v", rep.Machine)
	}

	svg, err := os.ReadFile(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg, "memstore")
}

// TestDiscoverablePaced runs usernameless logins paced to a fixed rate.
func TestDiscoverablePaced(t *testing.T) {
	st, err := openStores(context.Background(), storeMemstore, backendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close(context.Background())
	srv, err := startServer(st, "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	res := RunResult{Store: storeMemstore}
	tg := &target{url: srv.url, origin: srv.origin, server: srv, stores: st}
	err = run(context.Background(), tg, loadOptions{
		Users: 3, Duration: 600 * time.Millisecond, LoginMode: loginDiscoverable, Rate: 50, MaxLogins: 100,
	}, &res)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("errors: %v", res.ErrorSamples)
	}
	// 50/s over 0.6 s: about 30 logins, far below what the server can do.
	if res.Logins < 5 || res.Logins > 45 {
		t.Errorf("logins = %d at 50/s over 0.6 s", res.Logins)
	}
	if v := res.StoreCallsPerLogin["GetUserByName"]; v != 0 {
		t.Errorf("discoverable login looked the user up by name (%v per login)", v)
	}
	if res.OfferedRate != 50 {
		t.Errorf("offered rate = %v", res.OfferedRate)
	}
}

// TestErrorsFailTheRun: a server answering errors makes the run fail with
// exit status 1 and the errors counted.
func TestErrorsFailTheRun(t *testing.T) {
	st, err := openStores(context.Background(), storeMemstore, backendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close(context.Background())
	srv, err := startServer(st, "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	// A wrong origin: every begin is refused with 403.
	tg := &target{url: srv.url, origin: "http://localhost:1"}
	res := RunResult{}
	err = run(context.Background(), tg, loadOptions{Users: 2, Duration: 200 * time.Millisecond}, &res)
	if err == nil || res.Errors != 2 || !strings.Contains(res.ErrorSamples[0], "403") {
		t.Fatalf("err = %v, errors = %d %q", err, res.Errors, res.ErrorSamples)
	}

	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-target", srv.url, "-origin", "http://localhost:1", "-users", "2", "-duration", "200ms", "-warmup", "0", "-q"}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("exit status 0 with every request failing:\n%s", stdout.String())
	}
}

// TestExternalTarget runs against a server as an external target (as
// -target does with a -serve process), reading its stats endpoint.
func TestExternalTarget(t *testing.T) {
	st, err := openStores(context.Background(), storeMemstore, backendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close(context.Background())
	srv, err := startServer(st, "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-target", srv.url, "-users", "2", "-duration", "300ms", "-warmup", "0", "-max-logins", "40", "-q"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "server process") {
		t.Errorf("no server CPU from the stats endpoint:\n%s", stdout.String())
	}
}

func TestCheckTarget(t *testing.T) {
	for _, ok := range []string{
		"http://127.0.0.1:8080/passkeys", "http://localhost:8080/passkeys/", "http://[::1]:9000/p", "https://127.0.0.2/passkeys",
	} {
		if _, err := checkTarget(ok); err != nil {
			t.Errorf("checkTarget(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://example.com/passkeys", "http://10.0.0.1:8080/", "http://192.168.1.2/", "http://8.8.8.8/",
		"http://localhost.example.com/", "ftp://127.0.0.1/", "127.0.0.1:8080", "http://user@127.0.0.1/",
		"http://[::ffff:10.0.0.1]/",
	} {
		if _, err := checkTarget(bad); err == nil {
			t.Errorf("checkTarget(%q) accepted a non-loopback or malformed target", bad)
		}
	}
	var stderr bytes.Buffer
	if code := realMain([]string{"-target", "http://example.com/passkeys"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "non-loopback") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if code := realMain([]string{"-serve", "0.0.0.0:0", "-serve-for", "1s"}, io.Discard, &stderr); code != 2 {
		t.Errorf("-serve on 0.0.0.0: exit %d", code)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-store", "oracle"}, {"-users", "0"}, {"-duration", "0s"}, {"-duration", "2h"},
		{"-login", "magic"}, {"-scale", "ten"}, {"-scale-store", "sqlite", "-scale", "10"},
		{"-target", "http://127.0.0.1:1/p", "-scale", "10"}, {"-rate", "-1"}, {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	f, err := parseFlags([]string{"-store", "all"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stores, _ := parseStores(f.store)
	if strings.Join(stores, ",") != "memstore,sqlite,postgres+redis,mariadb+redis" {
		t.Errorf("all = %v", stores)
	}
	if f.timeout <= 4*(f.warmup+f.duration) {
		t.Errorf("timeout %v too short for 4 runs", f.timeout)
	}
	sizes, err := parseSizes("1_000_000,1000, 100000")
	if err != nil || len(sizes) != 3 || sizes[0] != 1000 || sizes[2] != 1_000_000 {
		t.Errorf("parseSizes = %v, %v", sizes, err)
	}
}

func TestChartFromJSON(t *testing.T) {
	rep := &Report{
		Machine: Machine{NumCPU: 2, CPUModel: "Test <CPU> & co", GoVersion: "go1.26", GOMAXPROCS: 2},
		Runs: []RunResult{
			{Store: "memstore", Users: 32, LoginMode: loginUsername, LoginsPerSec: 7000, Login: Latency{P50: 3.2, P99: 9.5}},
			{Store: "postgres+redis", Users: 32, LoginMode: loginUsername, LoginsPerSec: 1800, Login: Latency{P50: 15, P99: 60}},
		},
		Scale: []RunResult{
			{Store: "postgres+redis", Users: 32, RegisteredCredentials: 1000, LoginsPerSec: 1800, Login: Latency{P50: 15, P99: 60}},
			{Store: "postgres+redis", Users: 32, RegisteredCredentials: 1_000_000, LoginsPerSec: 1500, Login: Latency{P50: 18, P99: 70}},
		},
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "r.json")
	data, _ := json.Marshal(rep)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "c.svg")
	if code := realMain([]string{"-chart-from", in, "-chart", out}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg, "postgres+redis", "1k", "1M", ">7000<", "Test &lt;CPU&gt; &amp; co")
}

// checkSVG checks that svg is well-formed XML with an <svg> root and
// contains each string.
func checkSVG(t *testing.T, svg []byte, want ...string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	for _, w := range want {
		if !bytes.Contains(svg, []byte(w)) {
			t.Errorf("chart lacks %q", w)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ v, max float64 }{{0, 1}, {7, 8}, {95, 100}, {1872.6, 2500}, {0.4, 0.5}} {
		m, step := niceScale(c.v)
		if m < c.v || step <= 0 || m > c.v*2+1 {
			t.Errorf("niceScale(%v) = %v, %v", c.v, m, step)
		}
	}
}

// TestFlood is a short -flood run: a one-address flood is refused with 429
// after its burst, while the legitimate user (another address) signs in and
// a ceremony begun before the flood finishes.
func TestFlood(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "flood.json")
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-flood", "2500ms", "-flood-addrs", "1", "-users", "4", "-json", jsonPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Flood) != 1 {
		t.Fatalf("%d flood results", len(rep.Flood))
	}
	r := rep.Flood[0]
	if r.Begins[200] == 0 || r.Begins[429] == 0 || r.Begins[503] != 0 {
		t.Errorf("begins by status %v: want 200s (the burst), 429s and no 503", r.Begins)
	}
	if r.Begins[200] > 200 {
		t.Errorf("%d begins admitted from one address in 2.5 s, want about the burst (100) plus 10/s", r.Begins[200])
	}
	if r.PreFloodFinish != "ok" || r.SignInAttempts == 0 || r.SignInOK != r.SignInAttempts || r.AfterFlood != "ok" {
		t.Errorf("legitimate user: %+v\n%s", r, stdout.String())
	}
	if !strings.Contains(stdout.String(), "sign-ins during the flood") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// TestSyncedPasskeysWriteNothing: users with synced passkeys (counter 0)
// signing in again within Config.LastUsedResolution make no credential
// write; half of them do (the device-bound half).
func TestSyncedPasskeysWriteNothing(t *testing.T) {
	for _, tc := range []struct {
		synced   string
		min, max float64 // UpdateCredentialUse per login
	}{{"1", 0, 0.05}, {"0.5", 0.4, 0.6}} {
		r, _ := shortRun(t, "-store", "memstore", "-users", "4", "-synced", tc.synced)
		if r.Errors != 0 || r.Logins < 8 {
			t.Fatalf("-synced %s: %d errors, %d logins", tc.synced, r.Errors, r.Logins)
		}
		if v := r.StoreCallsPerLogin["UpdateCredentialUse"]; v < tc.min || v > tc.max {
			t.Errorf("-synced %s: UpdateCredentialUse per login = %v, want %v to %v", tc.synced, v, tc.min, tc.max)
		}
	}
	var stderr bytes.Buffer
	if code := realMain([]string{"-store", "memstore", "-synced", "1.5"}, io.Discard, &stderr); code == 0 {
		t.Error("-synced 1.5 accepted")
	}
}

// TestInstances: three in-process servers behind the round-robin proxy:
// begins and finishes land on different instances and every login works.
func TestInstances(t *testing.T) {
	r, stdout := shortRun(t, "-store", "memstore", "-instances", "3", "-users", "4")
	if !strings.Contains(stdout, "x 3 instances behind a proxy") {
		t.Errorf("stdout does not name the instances:\n%s", stdout)
	}
	if r.Instances != 3 || r.Errors != 0 || r.Logins < 8 {
		t.Errorf("instances %d, errors %d, logins %d", r.Instances, r.Errors, r.Logins)
	}
	if v := r.StoreCallsPerLogin["TakeCeremony"]; v < 0.8 || v > 1.2 {
		t.Errorf("TakeCeremony per login = %v: the proxy's instances do not share the counting wrapper", v)
	}
	for _, bad := range [][]string{{"-instances", "0"}, {"-instances", "17"}, {"-instances", "2", "-target", "http://127.0.0.1:1/passkeys"}} {
		if code := realMain(append([]string{"-store", "memstore"}, bad...), io.Discard, io.Discard); code == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}

// shortRun runs the tool with args and a short bounded run (0.5 s,
// at most 200 logins), failing t unless it succeeds; it returns the first
// run's result and the standard output.
func shortRun(t *testing.T, args ...string) (RunResult, string) {
	t.Helper()
	r, stdout, _ := runTool(t, append(args, "-duration", "500ms", "-warmup", "100ms", "-max-logins", "200", "-q")...)
	return r, stdout
}

// runTool runs the tool with args and a -json file, failing t unless it
// succeeds with one run; it returns that run and the standard output and
// error.
func runTool(t *testing.T, args ...string) (RunResult, string, string) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	args = append(args, "-json", jsonPath)
	if code := realMain(args, &stdout, &stderr); code != 0 {
		t.Fatalf("%v: exit status %d\n%s\n%s", args, code, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%v: %d runs, want 1", args, len(rep.Runs))
	}
	return rep.Runs[0], stdout.String(), stderr.String()
}
