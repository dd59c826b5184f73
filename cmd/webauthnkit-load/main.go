// Command webauthnkit-load is the load generator of webauthnkit: simulated
// users, each with its own virtual authenticator (package webauthntest), a
// cookie jar and a keep-alive connection, sign up once and then sign in
// over and over through real HTTP requests to the httpadapter endpoints.
//
// By default it starts the server in-process, on a random port of
// 127.0.0.1, over the store combination given by -store, with fresh tables
// and keys that it removes at the end:
//
//	go run ./cmd/webauthnkit-load -store memstore
//	go run ./cmd/webauthnkit-load -store sqlite
//	go run ./cmd/webauthnkit-load -store postgres+redis
//	go run ./cmd/webauthnkit-load -store mariadb+redis
//	go run ./cmd/webauthnkit-load -store all -json results.json -chart chart.svg
//
// (postgres, mariadb and redis alone are accepted too.) It draws a
// progress bar on stderr every second and prints a summary per store: logins per second,
// p50/p95/p99 latency of a whole login (begin + finish round trips) and of
// finish alone, errors, CPU per login, store calls and database round trips
// per login. It exits with status 1 if any request failed.
//
// -target sends the load to a server that is already running instead; only
// loopback targets are accepted unless -remote is given, which drives any
// deployment that speaks the adapter's HTTP API. -origin (default: the
// target's scheme and host) and -rp-id (default: the server's) must agree as
// a browser requires, and -rp-id must be the server's: both are checked
// before any load is sent or at the first sign-up. -max-requests,
// -max-logins, -duration and -users bound a run (cmd/webauthnkit-load/README.md:
// driving a deployment and sizing one from the output):
//
//	webauthnkit-load -target https://staging.example.com/passkeys -remote \
//	  -origin https://staging.example.com -rp-id example.com -max-requests 100000
//
// -serve runs just the server (for example
// pinned to one core with taskset, the load generator on the other):
//
//	taskset -c 0 webauthnkit-load -serve 127.0.0.1:8080 -store postgres+redis &
//	taskset -c 1 webauthnkit-load -target http://127.0.0.1:8080/passkeys
//
// -scale seeds PostgreSQL with many credentials (bulk SQL, not ceremonies)
// and measures logins at each size:
//
//	go run ./cmd/webauthnkit-load -scale 1000,100000,1000000 -json scale.json
//
// -chart-from renders the SVG chart of an earlier -json file.
//
// -flood measures the adapter's rate limiting: -users workers send
// unauthenticated login/begin requests for the given time from
// -flood-addrs client addresses (X-Forwarded-For through a trusted proxy),
// while a legitimate user finishes a ceremony begun before the flood and
// tries a sign-in every second. -flood-limit=false shows the same flood
// without rate limiting:
//
//	go run ./cmd/webauthnkit-load -flood 10s -flood-addrs 1
//	go run ./cmd/webauthnkit-load -flood 10s -flood-addrs 100000
//	go run ./cmd/webauthnkit-load -flood 10s -flood-addrs 100000 -flood-limit=false
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// Report is the -json output.
type Report struct {
	Version int         `json:"version"`
	Date    time.Time   `json:"date"`
	Command string      `json:"command"`
	Machine Machine     `json:"machine"`
	Runs    []RunResult `json:"runs,omitempty"`
	// Scale holds the -scale runs, one per registered-credential count.
	Scale []RunResult `json:"scale,omitempty"`
	// Flood holds the -flood runs.
	Flood []FloodResult `json:"flood,omitempty"`
}

type flags struct {
	instances   int
	synced      float64
	store       string
	target      string
	origin      string
	rpID        string
	remote      bool
	maxRequests int64
	serve       string
	serveFor    time.Duration
	users       int
	duration    time.Duration
	warmup      time.Duration
	maxLogins   int64
	rate        float64
	quietWait   time.Duration
	repeat      int
	countCalls  bool
	loginMode   string
	progress    time.Duration
	jsonOut     string
	chartOut    string
	chartFrom   string
	cpuProfile  string
	scale       string
	scaleStore  string
	backends    backendConfig
	quiet       bool
	timeout     time.Duration
	reqTimeout  time.Duration
	flood       time.Duration
	floodAddrs  int
	floodLimit  bool
	commandLine string
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the command and returns the exit status: 0 success, 1 a run
// had errors, 2 bad usage or a setup failure.
func realMain(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "webauthnkit-load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if f.chartFrom != "" {
		return renderChartFile(f, stdout, stderr)
	}
	if f.serve != "" {
		if err := serve(ctx, f, stdout); err != nil {
			fmt.Fprintln(stderr, "webauthnkit-load:", err)
			return 2
		}
		return 0
	}

	// Every run is bounded; this is the backstop if a server hangs.
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	rep := &Report{Version: 1, Date: time.Now().UTC().Truncate(time.Second), Command: f.commandLine, Machine: machineInfo()}
	var failed bool
	switch {
	case f.flood > 0:
		names, _ := parseStores(f.store)
		var res *FloodResult
		if res, err = runFlood(ctx, f, names[0], stderr); res != nil {
			rep.Flood = append(rep.Flood, *res)
			printFlood(stdout, res)
		}
	case f.scale != "":
		failed, err = runScale(ctx, f, rep, stdout)
	default:
		failed, err = runStores(ctx, f, rep, stdout, stderr)
	}
	if werr := writeOutputs(f, rep, stdout); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "webauthnkit-load:", err)
		return 2
	}
	if failed {
		fmt.Fprintln(stderr, "webauthnkit-load: FAILED: some requests failed (see errors above)")
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{commandLine: "webauthnkit-load " + strings.Join(args, " ")}
	fs := flag.NewFlagSet("webauthnkit-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.store, "store", storeMemstore, "store combination(s), comma-separated: "+strings.Join(knownStores, ", ")+", or all (the first four)")
	fs.StringVar(&f.target, "target", "", "load a server that is already running instead, e.g. http://localhost:8080/passkeys (loopback only unless -remote)")
	fs.StringVar(&f.origin, "origin", "", "with -target: the RP origin to send (default: scheme://host:port of -target)")
	fs.StringVar(&f.rpID, "rp-id", "", "with -target: the deployment's RP ID; it must fit -origin (the origin's host or a parent domain) and be the server's (default: the server's, checked against -origin)")
	fs.BoolVar(&f.remote, "remote", false, "with -target: allow a non-loopback host (a deployment you run; mind its rate limits and that the users the tool signs up stay)")
	fs.Int64Var(&f.maxRequests, "max-requests", 0, "stop a run after this many HTTP requests, sign-ups included (0: no limit)")
	fs.StringVar(&f.serve, "serve", "", "only run the server on this loopback address (e.g. 127.0.0.1:8080) over the first -store, for -target from another process")
	fs.DurationVar(&f.serveFor, "serve-for", 10*time.Minute, "with -serve: stop after this long")
	fs.IntVar(&f.users, "users", 32, "concurrent simulated users")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured login phase per run (after -warmup)")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "login phase not measured, before -duration (errors still count)")
	fs.Int64Var(&f.maxLogins, "max-logins", 1_000_000, "stop a run after this many measured logins (0: no limit; the warm-up is bounded by -warmup)")
	fs.Float64Var(&f.rate, "rate", 0, "pace all users together to this many logins per second (0: closed loop, as fast as the server answers)")
	fs.DurationVar(&f.quietWait, "quiet-wait", 0, "before each run, wait up to this long for other work on the machine to stop (busy cores are always measured and reported)")
	fs.IntVar(&f.repeat, "repeat", 1, "run each store up to this many times and keep the run least disturbed by other work on the machine (stops early at a clean run)")
	fs.BoolVar(&f.countCalls, "count-calls", true, "count the core's store calls (an atomic add per call; the wrapper forwards the optional methods the store declares)")
	fs.IntVar(&f.instances, "instances", 1, "in-process servers (1 to 16), each with its own RelyingParty and adapter over the same stores and secrets, behind a round-robin reverse proxy: a ceremony begun on one finishes on another (on one machine this shows the overhead of the extra hop, not scaling)")
	fs.Float64Var(&f.synced, "synced", 0, "share of users (0 to 1) with a synced passkey (counter 0: a repeated login within Config.LastUsedResolution writes nothing); the others have a device-bound one whose counter grows (a write per login)")
	fs.StringVar(&f.loginMode, "login", loginUsername, "login/begin request: username ({\"username\"}: allowCredentials from the store) or discoverable ({}: usernameless)")
	fs.DurationVar(&f.progress, "progress", time.Second, "interval of progress lines on stderr (0: none)")
	fs.BoolVar(&f.quiet, "q", false, "no progress lines")
	fs.StringVar(&f.jsonOut, "json", "", "write the results as JSON to this file")
	fs.StringVar(&f.chartOut, "chart", "", "write an SVG chart of the results to this file")
	fs.StringVar(&f.chartFrom, "chart-from", "", "render -chart from this earlier -json file instead of running")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured login phase (per store: the store name is added before the extension when several run)")
	fs.StringVar(&f.scale, "scale", "", "comma-separated registered-credential counts (e.g. 1000,100000,1000000): seed PostgreSQL in bulk and measure logins at each")
	fs.StringVar(&f.scaleStore, "scale-store", storePostgresRedis, "store combination of -scale: postgres+redis or postgres")
	fs.StringVar(&f.backends.PostgresDSN, "pg", testenv.PostgresDSN(), "PostgreSQL DSN (pgx; $"+testenv.PostgresDSNEnv+" if set)")
	fs.StringVar(&f.backends.MySQLDSN, "mysql", testenv.MySQLDSN(), "MariaDB/MySQL DSN (go-sql-driver/mysql; $"+testenv.MySQLDSNEnv+" if set)")
	fs.StringVar(&f.backends.RedisAddr, "redis", testenv.RedisAddr(), "Redis address ($"+testenv.RedisAddrEnv+" if set)")
	fs.IntVar(&f.backends.DBConns, "db-conns", 16, "max open connections of the SQL pool (and min Redis pool size)")
	fs.DurationVar(&f.reqTimeout, "request-timeout", 30*time.Second, "timeout of one HTTP request")
	fs.DurationVar(&f.flood, "flood", 0, "run a login/begin flood of this length instead of the login load (in-process server over the first -store)")
	fs.IntVar(&f.floodAddrs, "flood-addrs", 1, "with -flood: distinct client addresses of the flood (1 to 16777216)")
	fs.BoolVar(&f.floodLimit, "flood-limit", true, "with -flood: the adapter's rate limiting on (its defaults) or off")
	fs.DurationVar(&f.timeout, "timeout", 0, "hard limit of the whole command (default: 2m + 3 × (warmup + duration) per run)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: webauthnkit-load [flags]\n\nRuns simulated passkey users against httpadapter over real HTTP. See go doc ./cmd/webauthnkit-load.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.quiet {
		f.progress = 0
	}
	switch {
	case f.users < 1 || f.users > 10000:
		return nil, fmt.Errorf("-users %d: want 1 to 10000", f.users)
	case f.instances < 1 || f.instances > maxInstances:
		return nil, fmt.Errorf("-instances %d: want 1 to %d", f.instances, maxInstances)
	case f.instances > 1 && f.target != "":
		return nil, errors.New("-instances starts servers in this process: not with -target")
	case f.synced < 0 || f.synced > 1:
		return nil, fmt.Errorf("-synced %v: want 0 to 1", f.synced)
	case f.duration <= 0 || f.duration > time.Hour:
		return nil, fmt.Errorf("-duration %v: want more than 0 and at most 1h", f.duration)
	case f.warmup < 0 || f.warmup > 10*time.Minute:
		return nil, fmt.Errorf("-warmup %v: want 0 to 10m", f.warmup)
	case f.rate < 0 || f.rate > 1e6:
		return nil, fmt.Errorf("-rate %v: want 0 to 1000000", f.rate)
	case f.maxLogins < 0:
		return nil, fmt.Errorf("-max-logins %d: want 0 or more", f.maxLogins)
	case f.maxRequests < 0 || (f.maxRequests > 0 && f.maxRequests < int64(2*f.users+2)):
		return nil, fmt.Errorf("-max-requests %d: want 0 (no limit) or at least %d (two per sign-up of -users %d, and one login)", f.maxRequests, 2*f.users+2, f.users)
	case f.repeat < 1 || f.repeat > 20:
		return nil, fmt.Errorf("-repeat %d: want 1 to 20", f.repeat)
	case f.backends.DBConns < 1:
		return nil, fmt.Errorf("-db-conns %d: want at least 1", f.backends.DBConns)
	case f.serveFor <= 0 || f.serveFor > 24*time.Hour:
		return nil, fmt.Errorf("-serve-for %v: want more than 0 and at most 24h", f.serveFor)
	case f.flood < 0 || f.flood > 10*time.Minute:
		return nil, fmt.Errorf("-flood %v: want 0 to 10m", f.flood)
	case f.floodAddrs < 1 || f.floodAddrs > 1<<24:
		return nil, fmt.Errorf("-flood-addrs %d: want 1 to 16777216", f.floodAddrs)
	}
	if f.flood > 0 && (f.target != "" || f.serve != "" || f.scale != "") {
		return nil, errors.New("-flood cannot be combined with -target, -serve or -scale")
	}
	if f.loginMode != loginUsername && f.loginMode != loginDiscoverable {
		return nil, fmt.Errorf("-login %q: want %s or %s", f.loginMode, loginUsername, loginDiscoverable)
	}
	if f.target != "" && (f.serve != "" || f.scale != "") {
		return nil, errors.New("-target cannot be combined with -serve or -scale")
	}
	if f.target != "" {
		u, err := checkTargetFor(f.target, f.remote)
		if err != nil {
			return nil, err
		}
		if f.origin == "" {
			f.origin = u.Scheme + "://" + u.Host
		}
		if f.rpID != "" {
			if err := checkOriginRPID(f.origin, f.rpID); err != nil {
				return nil, err
			}
		}
	} else if f.remote || f.rpID != "" || f.origin != "" {
		return nil, errors.New("-remote, -rp-id and -origin go with -target")
	}
	if _, err := parseStores(f.store); err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	if f.scale != "" {
		if _, err := parseSizes(f.scale); err != nil {
			return nil, err
		}
		if f.scaleStore != storePostgresRedis && f.scaleStore != storePostgres {
			return nil, fmt.Errorf("-scale-store %q: want %s or %s", f.scaleStore, storePostgresRedis, storePostgres)
		}
	}
	if f.timeout == 0 {
		runs := 1
		if stores, _ := parseStores(f.store); f.target == "" {
			runs = len(stores)
		}
		if sizes, _ := parseSizes(f.scale); len(sizes) > 0 {
			runs = len(sizes)
			f.timeout += 30 * time.Minute // seeding
		}
		runs *= f.repeat
		f.timeout += 2*time.Minute + time.Duration(3*runs)*(f.warmup+f.duration) + time.Duration(runs)*f.quietWait
	}
	return f, nil
}

func (f *flags) loadOptions(label string, stderr io.Writer) loadOptions {
	o := loadOptions{
		Users: f.users, Duration: f.duration, Warmup: f.warmup, MaxLogins: f.maxLogins,
		LoginMode: f.loginMode, Synced: f.synced, Progress: f.progress, RequestTimeout: f.reqTimeout, Label: label,
		MaxRequests: f.maxRequests,
		Rate:        f.rate, Background: time.Second, QuietWait: f.quietWait,
	}
	if f.progress > 0 {
		o.Log = stderr
	}
	return o
}

// profileHook returns an OnMeasure that writes a CPU profile of the
// measured phase to path (nil when path is empty).
func profileHook(path string, stderr io.Writer) func(bool) {
	if path == "" {
		return nil
	}
	var file *os.File
	return func(start bool) {
		if start {
			var err error
			if file, err = os.Create(path); err != nil {
				fmt.Fprintln(stderr, "webauthnkit-load: cpuprofile:", err)
				return
			}
			if err := pprof.StartCPUProfile(file); err != nil {
				fmt.Fprintln(stderr, "webauthnkit-load: cpuprofile:", err)
				file.Close()
				file = nil
			}
			return
		}
		if file != nil {
			pprof.StopCPUProfile()
			file.Close()
			fmt.Fprintln(stderr, "webauthnkit-load: CPU profile written to", path)
		}
	}
}

// profilePath names the profile of one store when several run.
func profilePath(path, store string, several bool) string {
	if path == "" || !several {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + strings.ReplaceAll(store, "+", "-") + ext
}

// runStores runs every -store in turn (or the -target).
func runStores(ctx context.Context, f *flags, rep *Report, stdout, stderr io.Writer) (failed bool, err error) {
	if f.target != "" {
		u, err := checkTargetFor(f.target, f.remote)
		if err != nil {
			return false, err
		}
		t := &target{url: u.String(), origin: f.origin, rpID: f.rpID, statsURL: u.Scheme + "://" + u.Host + statsPath}
		t.client = newTransportFor(f.users, f.remote)
		if fetchStats(ctx, t.client, t.statsURL) == nil {
			t.statsURL = "" // not a -serve server: no server CPU
		}
		opts := f.loadOptions("external", stderr)
		opts.OnMeasure = profileHook(f.cpuProfile, stderr)
		res := RunResult{Store: "external"}
		err = run(ctx, t, opts, &res)
		rep.Runs = append(rep.Runs, res)
		printResult(stdout, &res)
		return res.Errors > 0, err
	}
	names, _ := parseStores(f.store)
	for _, name := range names {
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
		var res *RunResult
		for attempt := 1; attempt <= f.repeat; attempt++ {
			r, err := runStore(ctx, f, name, len(names) > 1, stderr)
			if err != nil {
				return failed, fmt.Errorf("%s: %w", name, err)
			}
			if f.repeat > 1 {
				fmt.Fprintf(stderr, "%s: attempt %d: %.1f logins/s, p99 %.2f ms, %.2f cores of other work, %d errors\n",
					name, attempt, r.LoginsPerSec, r.Login.P99, r.OtherBusyCores, r.Errors)
			}
			if r.Errors > 0 { // a failed run is reported, never retried away
				res = r
				break
			}
			if res == nil || disturbance(r) < disturbance(res) {
				res = r
			}
			if disturbance(res) < cleanRun {
				break
			}
		}
		rep.Runs = append(rep.Runs, *res)
		printResult(stdout, res)
		failed = failed || res.Errors > 0
	}
	if len(rep.Runs) > 1 {
		printComparison(stdout, rep.Runs)
	}
	return failed, nil
}

// cleanRun is the disturbance below which a run counts as clean: other
// work used less than a tenth of a core during it (and a quarter before).
const cleanRun = 0.1

// disturbance rates how much other work on the machine overlapped a run.
func disturbance(r *RunResult) float64 {
	return max(r.OtherBusyCores, r.BackgroundBusyCores-0.15)
}

// runStore runs one in-process store combination from fresh tables to
// clean-up.
func runStore(ctx context.Context, f *flags, name string, several bool, stderr io.Writer) (res *RunResult, err error) {
	fmt.Fprintf(stderr, "== %s: %d users, %v warm-up + %v\n", name, f.users, f.warmup, f.duration)
	st, err := openStores(ctx, name, f.backends)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean-up: %w", cerr))
		}
	}()
	var srv *server
	if f.instances > 1 {
		var stop func() error
		srv, stop, err = startInstances(st, f.instances, f.countCalls)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, stop()) }()
	} else {
		srv, err = startServer(st, "127.0.0.1:0", f.countCalls)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, srv.close()) }()
	}
	opts := f.loadOptions(name, stderr)
	opts.OnMeasure = profileHook(profilePath(f.cpuProfile, name, several), stderr)
	res = &RunResult{Store: name, Servers: st.versions, Instances: max(f.instances, 1)}
	t := &target{url: srv.url, origin: srv.origin, server: srv, stores: st}
	err = run(ctx, t, opts, res)
	return res, err
}

// serve runs only the server until interrupted or -serve-for has passed.
func serve(ctx context.Context, f *flags, stdout io.Writer) error {
	names, _ := parseStores(f.store)
	st, err := openStores(ctx, names[0], f.backends)
	if err != nil {
		return err
	}
	defer st.close(context.WithoutCancel(ctx))
	srv, err := startServer(st, f.serve, f.countCalls)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s over %s at %s (stats at %s%s) for %v; Ctrl-C stops\n",
		mountPath, names[0], srv.url, srv.origin, statsPath, f.serveFor)
	select {
	case <-ctx.Done():
	case <-time.After(f.serveFor):
	}
	return srv.close()
}

func writeOutputs(f *flags, rep *Report, stdout io.Writer) error {
	var errs []error
	if f.jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(f.jsonOut, append(data, '\n'), 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("-json: %w", err))
		} else {
			fmt.Fprintln(stdout, "results written to", f.jsonOut)
		}
	}
	if f.chartOut != "" && (len(rep.Runs) > 0 || len(rep.Scale) > 0) {
		if err := os.WriteFile(f.chartOut, renderChart(rep), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("-chart: %w", err))
		} else {
			fmt.Fprintln(stdout, "chart written to", f.chartOut)
		}
	}
	return errors.Join(errs...)
}

func renderChartFile(f *flags, stdout, stderr io.Writer) int {
	if f.chartOut == "" {
		fmt.Fprintln(stderr, "webauthnkit-load: -chart-from needs -chart OUT.svg")
		return 2
	}
	data, err := os.ReadFile(f.chartFrom)
	if err != nil {
		fmt.Fprintln(stderr, "webauthnkit-load:", err)
		return 2
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		fmt.Fprintf(stderr, "webauthnkit-load: %s: %v\n", f.chartFrom, err)
		return 2
	}
	if err := os.WriteFile(f.chartOut, renderChart(&rep), 0o644); err != nil {
		fmt.Fprintln(stderr, "webauthnkit-load:", err)
		return 2
	}
	fmt.Fprintln(stdout, "chart written to", f.chartOut)
	return 0
}

// printResult prints the summary of one run.
func printResult(w io.Writer, r *RunResult) {
	label := r.Store
	if r.RegisteredCredentials > 0 {
		label += " @ " + strconv.FormatInt(r.RegisteredCredentials, 10) + " credentials"
	}
	if r.Instances > 1 {
		label += fmt.Sprintf(" x %d instances behind a proxy", r.Instances)
	}
	pace := "closed loop"
	if r.OfferedRate > 0 {
		pace = fmt.Sprintf("paced at %g logins/s", r.OfferedRate)
	}
	fmt.Fprintf(w, "\n%s (%s login, %d users, %s, GOMAXPROCS %d)\n", label, r.LoginMode, r.Users, pace, r.GOMAXPROCS)
	if r.BackgroundBusyCores >= 0 {
		fmt.Fprintf(w, "  before the run  %.2f cores busy with other work, load average %.2f\n", r.BackgroundBusyCores, r.LoadAverage)
	}
	fmt.Fprintf(w, "  sign-ups        %d (p50 %.2f ms, p99 %.2f ms)\n", r.Signups, r.Signup.P50, r.Signup.P99)
	fmt.Fprintf(w, "  logins          %d in %.2f s = %.1f logins/s (%.1f requests/s)\n", r.Logins, r.Seconds, r.LoginsPerSec, r.RequestsPerSec)
	fmt.Fprintf(w, "  login  latency  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms (begin + finish)\n", r.Login.P50, r.Login.P95, r.Login.P99, r.Login.Max)
	fmt.Fprintf(w, "  finish latency  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms\n", r.Finish.P50, r.Finish.P95, r.Finish.P99, r.Finish.Max)
	cpuWho := "server + load generator"
	if !r.InProcess {
		cpuWho = "load generator"
	}
	fmt.Fprintf(w, "  CPU per login   %.3f ms process (%s)", r.ProcessCPUPerLoginMs, cpuWho)
	if r.ServerCPUPerLoginMs > 0 {
		fmt.Fprintf(w, ", %.3f ms server process", r.ServerCPUPerLoginMs)
	}
	if r.MachineCPUPerLoginMs > 0 {
		fmt.Fprintf(w, ", %.3f ms whole machine (%.2f cores busy)", r.MachineCPUPerLoginMs, r.MachineBusyCores)
	}
	fmt.Fprintln(w)
	if len(r.CPUPerLoginByProcessMs) > 1 {
		fmt.Fprintf(w, "  CPU by process  %s = %.3f ms per login (ceiling %.0f logins/s on %d cores)\n",
			formatMap(r.CPUPerLoginByProcessMs), r.StackCPUPerLoginMs, float64(runtime.NumCPU())*1000/r.StackCPUPerLoginMs, runtime.NumCPU())
	}
	if r.MachineCPUPerLoginMs > 0 {
		warn := ""
		if r.OtherBusyCores >= 0.15 {
			warn = " (other work was running: the figures are skewed)"
		}
		fmt.Fprintf(w, "  other work      %.2f cores busy outside this process and the database servers%s\n", r.OtherBusyCores, warn)
	}
	if len(r.StoreCallsPerLogin) > 0 {
		fmt.Fprintf(w, "  store calls     %s per login\n", formatMap(r.StoreCallsPerLogin))
	}
	if len(r.RoundTripsPerLogin) > 0 {
		fmt.Fprintf(w, "  round trips     %s per login\n", formatMap(r.RoundTripsPerLogin))
	}
	if len(r.Servers) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.Servers) {
			parts = append(parts, k+" "+r.Servers[k])
		}
		fmt.Fprintf(w, "  servers         %s\n", strings.Join(parts, "; "))
	}
	fmt.Fprintf(w, "  errors          %d\n", r.Errors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "    %s\n", s)
	}
}

// printComparison prints each run's throughput relative to the first.
func printComparison(w io.Writer, runs []RunResult) {
	base := runs[0]
	fmt.Fprintf(w, "\n%-16s %10s %8s %9s %9s %9s %7s\n", "store", "logins/s", "vs "+base.Store, "p50 ms", "p99 ms", "fin p99", "errors")
	for _, r := range runs {
		rel := 0.0
		if base.LoginsPerSec > 0 {
			rel = 100 * r.LoginsPerSec / base.LoginsPerSec
		}
		fmt.Fprintf(w, "%-16s %10.1f %7.0f%% %9.2f %9.2f %9.2f %7d\n", r.Store, r.LoginsPerSec, rel, r.Login.P50, r.Login.P99, r.Finish.P99, r.Errors)
	}
}

func formatMap[V int64 | float64](m map[string]V) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %v", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
