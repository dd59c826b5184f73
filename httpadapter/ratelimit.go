package httpadapter

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit configures the adapter's rate limiting. The zero value is on,
// with the defaults below.
//
// Requests are counted per client and per endpoint class, in token buckets
// (golang.org/x/time/rate): Burst requests at once, refilled at PerSecond.
// On top of that, one global bucket caps the begins of every client
// together, so that the ceremonies in flight (each begin stores one for the
// RelyingParty's ChallengeTTL) stay below CeremoniesInFlight: a flood from
// many addresses gets 429 before the store fills (memstore refuses begins
// beyond its cap with 503, for everyone). While that global budget is
// under half full, a begin costs a client a fifth of its Begin burst, so a
// few dozen clients each within their budget cannot drain it for everyone
// (a quiet client still gets five begins at once). Finishes have their own per-client
// budget and no global one, so ceremonies already begun can always finish.
//
// A refused request gets 429 {"error":"rate_limited"} with Retry-After.
type RateLimit struct {
	// Disabled turns rate limiting off, e.g. when a gateway in front of the
	// application already limits. Default false.
	Disabled bool

	// Begin is the per-client budget of registration/begin and login/begin.
	// Default 10/s, burst 100 (DefaultBeginRate).
	Begin Rate
	// Finish is the per-client budget of registration/finish and
	// login/finish. Default 10/s, burst 100 (DefaultFinishRate).
	Finish Rate
	// Manage is the per-client budget of credentials, credentials/{id},
	// session and logout. Default 20/s, burst 200 (DefaultManageRate).
	Manage Rate
	// Account is the per-client budget of the account-flow endpoints
	// (Options.Accounts: signup/*, recovery/*, email*), which send mail
	// and check codes; the account package adds its own per-account and
	// per-address budgets. Default 1/s, burst 20 (DefaultAccountRate).
	Account Rate
	// Link is the per-client budget of device linking: link/lookup,
	// link/approve and link/deny on the signed-in device, where codes are
	// typed (wrong codes cannot be tried faster than this from one address;
	// the core adds a per-account budget, webauthnkit.LinkLookupLimit), and
	// link/start on the new device (which also counts as a Begin: it stores
	// a record, and its QR code costs about 2 ms of CPU to draw). Both
	// devices are often behind one address: a linking takes about five of
	// these calls. Default 0.2/s, burst 20 (DefaultLinkRate). link/poll
	// counts as Manage.
	Link Rate

	// CeremoniesInFlight is the most ceremonies the global begin budget lets
	// exist at once. Default DefaultCeremoniesInFlight (80% of
	// memstore.DefaultMaxCeremonies); with a memstore built
	// WithMaxCeremonies(n), set it below n. With sqlstore or redisstore,
	// which have no cap, it still bounds how fast a flood grows the store.
	CeremoniesInFlight int

	// MaxClients caps the clients tracked per endpoint class; the least
	// recently seen client is forgotten first (its next request starts with
	// a full bucket). Default DefaultMaxClients (50,000). Memory: about 210
	// bytes per tracked client (TestRateLimiterMemoryBound), so the default
	// caps the limiter at about 52 MB when all four classes and the IPv6
	// /48 table of begins under pressure are full, and a flood of distinct
	// addresses cannot grow it further.
	MaxClients int

	// TrustedProxies are the reverse proxies (CIDRs like "10.0.0.0/8", or
	// single IPs, or TrustUnixSocket for a proxy connecting over a Unix
	// socket) whose ClientIPHeader is believed. Default none: the
	// client is the connection's peer address and forwarding headers are
	// ignored, since any client can send them.
	TrustedProxies []string
	// ClientIPHeader is the header the trusted proxies write: "X-Forwarded-For"
	// (default) or "Forwarded" (RFC 7239). Only this one is read; the client
	// is its right-most address that is not a trusted proxy.
	ClientIPHeader string

	// Shared, if set, keeps the per-client budgets (Begin, Finish, Manage,
	// Account) in a store that every instance shares, such as
	// redisstore.NewRateLimiter: behind a load balancer a client then has
	// one budget, not one per instance. When the shared store fails, or
	// does not answer within SharedTimeout, the request is counted in this
	// process instead (limiting degrades to per instance; it neither lets
	// everything through nor refuses everyone), and the failure is logged
	// at most every 10 seconds. The global begin ceiling and the IPv6 /48
	// budget under pressure stay per instance: they protect this process.
	// Default nil: budgets in this process only, so N instances give a
	// client N times its budget (divide the budgets by N, or set Shared).
	Shared SharedLimiter

	// Key, if set, returns the key to count r under instead of the client
	// address (e.g. an API client's ID from a header your gateway
	// authenticates). An empty result falls back to the address. Keys
	// longer than 64 bytes are hashed.
	Key func(r *http.Request) string

	// OnRefused, if set, is called (synchronously, before the 429 is
	// written) for every request the limit refuses, e.g. to count refusals
	// in metrics or write an audit line (packages webauthnotel and audit).
	// It must be fast and must not block: under a flood it runs for every
	// refused request. Default nil.
	OnRefused func(r *http.Request, refusal Refusal)
}

// Refusal describes a request RateLimit refused, for RateLimit.OnRefused.
type Refusal struct {
	// Class is the endpoint class whose budget was exhausted: "begin",
	// "finish", "manage" or "account".
	Class string
	// Client is the client's address as the limiter determined it
	// (TrustedProxies applied); the zero Addr when RateLimit.Key counted
	// the request under its own key.
	Client netip.Addr
	// Global: the global begin budget (CeremoniesInFlight) refused it, not
	// the client's own budget: many clients together are beginning more
	// ceremonies than the store should hold, a flood.
	Global bool
	// RetryAfter is the wait the 429's Retry-After announces (before
	// rounding up to whole seconds).
	RetryAfter time.Duration
}

// SharedLimiter keeps token buckets in a store several processes share
// (RateLimit.Shared). redisstore.RateLimiter implements it.
type SharedLimiter interface {
	// AllowN takes n tokens from the bucket key (refilled at perSecond, at
	// most burst tokens) if it holds them; otherwise it takes none and
	// returns how long until it would. key is at most about 80 bytes and
	// may hold a client address: the store should hash it.
	AllowN(ctx context.Context, key string, perSecond float64, burst, n int) (retryAfter time.Duration, ok bool, err error)
}

// SharedTimeout bounds each call to RateLimit.Shared; a slower answer
// counts as a failure (the request is then counted in the process).
const SharedTimeout = 200 * time.Millisecond

// Rate is a token bucket: up to Burst requests at once, refilled at
// PerSecond. A zero field takes the default.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Rate-limit defaults. The per-client numbers are per IPv4 address or IPv6
// /64, which a company or carrier-grade NAT may share among thousands of
// users. A sign-in is one or two begins (conditional UI, then the modal
// dialog) and one finish, so 10 begins a second is about 18,000 sign-ins an
// hour from one address, and a burst of 100 lets a classroom sign in at the
// same minute. Management calls (session checks on page loads, listing
// passkeys) are more frequent, hence twice that.
var (
	DefaultBeginRate  = Rate{PerSecond: 10, Burst: 100}
	DefaultFinishRate = Rate{PerSecond: 10, Burst: 100}
	DefaultManageRate = Rate{PerSecond: 20, Burst: 200}
	// DefaultAccountRate: a person signing up or recovering makes a
	// handful of these calls; a NAT of many people still gets 20 at once.
	DefaultAccountRate = Rate{PerSecond: 1, Burst: 20}
	// DefaultLinkRate: a linking is a start or two, a lookup and an
	// approval (two with a re-authentication); twenty at once, then one
	// every five seconds, keeps a typo harmless, a guesser at 720 codes an
	// hour per address, and QR drawing for one address under 1% of a core.
	DefaultLinkRate = Rate{PerSecond: 0.2, Burst: 20}
)

const (
	// DefaultCeremoniesInFlight leaves 20% of memstore.DefaultMaxCeremonies
	// (100,000) free. With the default 5-minute ChallengeTTL the global begin
	// budget is then about 258 begins a second (22 million a day), far above
	// any single site's sign-in rate.
	DefaultCeremoniesInFlight = 80_000
	// DefaultMaxClients is the default of RateLimit.MaxClients: more
	// distinct clients than a large site sees within the few seconds it
	// takes a bucket to refill (a forgotten client only gets a full bucket).
	DefaultMaxClients = 50_000

	// globalBurstWindow: the global begin bucket holds this many seconds of
	// its rate, so a sudden crowd is admitted at once.
	globalBurstWindow = 10 * time.Second
	// quietBegins: under pressure (the global begin budget less than half
	// full) a begin costs a client burst/quietBegins of its own tokens, so a
	// client that has been quiet still gets this many begins at once, while
	// one that keeps sending gets PerSecond*quietBegins/Burst a second (0.5/s
	// with the defaults, instead of 10): draining the global budget then
	// takes over 500 addresses instead of 26.
	quietBegins   = 5
	sweepSlack    = time.Second
	maxKeyLength  = 64
	limiterShards = 16
)

// endpointClass is what a request is counted as.
type endpointClass int

const (
	classNone endpointClass = iota // not limited (client.js, well-known)
	classBegin
	classFinish
	classManage
	classAccount // the account flows (Options.Accounts)
	classLink    // device linking on the signed-in device (codes typed)
)

func (c endpointClass) String() string {
	switch c {
	case classBegin:
		return "begin"
	case classFinish:
		return "finish"
	case classManage:
		return "manage"
	case classAccount:
		return "account"
	case classLink:
		return "link"
	}
	return "none"
}

// rateLimiter applies RateLimit. nil means disabled.
type rateLimiter struct {
	addrs     clientAddrs
	key       func(*http.Request) string
	perClient [classLink + 1]*limiterTable
	rates     [classLink + 1]Rate
	shared    SharedLimiter
	// sharedFailed is called when shared fails (the Handler logs it).
	sharedFailed func(context.Context, error)
	globalBegin  *rate.Limiter
	// pressureCost is what a begin costs a client under pressure.
	pressureCost int
	// beginBlocks: begins under pressure are also charged to the client's
	// IPv6 /48 (pressureBlock), which holds 65,536 /64 client keys.
	beginBlocks *limiterTable
	now         func() time.Time
	onRefused   func(*http.Request, Refusal)
}

func newRateLimiter(cfg RateLimit, ceremonyTTL time.Duration, now func() time.Time) (*rateLimiter, error) {
	if cfg.Disabled {
		return nil, nil
	}
	addrs, err := newClientAddrs(cfg.TrustedProxies, cfg.ClientIPHeader)
	if err != nil {
		return nil, err
	}
	if cfg.MaxClients < 0 || cfg.CeremoniesInFlight < 0 {
		return nil, fmt.Errorf("httpadapter: Options.RateLimit: MaxClients and CeremoniesInFlight must not be negative")
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.CeremoniesInFlight == 0 {
		cfg.CeremoniesInFlight = DefaultCeremoniesInFlight
	}
	l := &rateLimiter{addrs: addrs, key: cfg.Key, now: now, shared: cfg.Shared, onRefused: cfg.OnRefused}
	for _, c := range []struct {
		class     endpointClass
		name      string
		rate, def Rate
	}{
		{classBegin, "Begin", cfg.Begin, DefaultBeginRate},
		{classFinish, "Finish", cfg.Finish, DefaultFinishRate},
		{classManage, "Manage", cfg.Manage, DefaultManageRate},
		{classAccount, "Account", cfg.Account, DefaultAccountRate},
		{classLink, "Link", cfg.Link, DefaultLinkRate},
	} {
		r := c.rate
		if r.PerSecond < 0 || r.Burst < 0 || math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) {
			return nil, fmt.Errorf("httpadapter: Options.RateLimit.%s: PerSecond and Burst must be finite and not negative", c.name)
		}
		if r.PerSecond == 0 {
			r.PerSecond = c.def.PerSecond
		}
		if r.Burst == 0 {
			r.Burst = c.def.Burst
		}
		l.perClient[c.class] = newLimiterTable(r, cfg.MaxClients)
		l.rates[c.class] = r
		if c.class == classBegin {
			l.pressureCost = max(r.Burst/quietBegins, 1)
			l.beginBlocks = newLimiterTable(r, cfg.MaxClients)
		}
	}
	// Every begin stores a ceremony for ceremonyTTL (memstore drops expired
	// ones at most a second late). A token bucket admits at most
	// burst + rate*T requests in any window T, so with
	// rate = N/(TTL+slack+burstWindow) and burst = rate*burstWindow the
	// ceremonies alive at once never exceed N.
	window := ceremonyTTL + sweepSlack + globalBurstWindow
	perSecond := float64(cfg.CeremoniesInFlight) / window.Seconds()
	burst := max(int(perSecond*globalBurstWindow.Seconds()), 1)
	l.globalBegin = rate.NewLimiter(rate.Limit(perSecond), burst)
	return l, nil
}

// allow counts r in class and reports whether it may proceed; if not, how
// long until it would be allowed.
func (l *rateLimiter) allow(r *http.Request, class endpointClass) (time.Duration, bool) {
	ref, ok := l.check(r, class)
	return ref.RetryAfter, ok
}

// check is allow, describing a refusal.
func (l *rateLimiter) check(r *http.Request, class endpointClass) (Refusal, bool) {
	if l == nil || class == classNone {
		return Refusal{}, true
	}
	now := l.now()
	// A few dozen clients, each within its budget, can together send more
	// begins than the global rate: while the global budget is under half
	// full, a begin costs each client more (pressureCost), so the clients
	// that keep sending slow down to a fraction of their rate before the
	// global budget runs dry, and a client that has been quiet still finds
	// tokens there.
	cost := 1
	if class == classBegin && l.globalBegin.TokensAt(now) < float64(l.globalBegin.Burst())/2 {
		cost = l.pressureCost
	}
	key, addr := l.clientKey(r)
	refused := func(wait time.Duration, global bool) (Refusal, bool) {
		return Refusal{Class: class.String(), Client: addr, Global: global, RetryAfter: wait}, false
	}
	if wait, ok := l.allowClient(r.Context(), class, key, now, cost); !ok {
		return refused(wait, false)
	}
	// One IPv6 /48 (a tunnel broker gives one away) holds more /64 client
	// keys than MaxClients: under pressure its begins share one budget.
	if block, ok := pressureBlock(addr); ok && cost > 1 {
		if wait, ok := l.beginBlocks.allow(block, now, cost); !ok {
			return refused(wait, false)
		}
	}
	// The global ceiling is consulted only for requests within their own
	// budget, so one noisy client cannot spend everyone's.
	if class == classBegin && !l.globalBegin.AllowN(now, 1) {
		return refused(tokenWait(l.globalBegin, now, 1), true)
	}
	return Refusal{}, true
}

// allowClient takes cost tokens from the client's bucket of class: in
// the shared store if there is one and it answers, else in the process.
func (l *rateLimiter) allowClient(ctx context.Context, class endpointClass, key string, now time.Time, cost int) (time.Duration, bool) {
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SharedTimeout)
		rt := l.rates[class]
		wait, ok, err := l.shared.AllowN(ctx, class.String()+"/"+key, rt.PerSecond, rt.Burst, cost)
		cancel()
		if err == nil {
			return wait, ok
		}
		if l.sharedFailed != nil {
			l.sharedFailed(ctx, err)
		}
	}
	return l.perClient[class].allow(key, now, cost)
}

// clientKey is the key r is counted under, and the client's address when
// the key is the address.
func (l *rateLimiter) clientKey(r *http.Request) (string, netip.Addr) {
	if l.key != nil {
		if k := l.key(r); k != "" {
			if len(k) > maxKeyLength {
				sum := sha256.Sum256([]byte(k))
				k = "sha256:" + hex.EncodeToString(sum[:16])
			}
			return "k:" + k, netip.Addr{} // never equal to an address key
		}
	}
	a := l.addrs.clientAddr(r)
	return addrKey(a), a
}

// pressureBlock is the IPv6 /48 of a, the block a site or a tunnel broker
// customer usually gets.
func pressureBlock(a netip.Addr) (string, bool) {
	if !a.Is6() {
		return "", false
	}
	p, err := a.Prefix(48)
	return p.String(), err == nil
}

// tokenWait is how long until lim holds n tokens.
func tokenWait(lim *rate.Limiter, now time.Time, n int) time.Duration {
	missing := float64(n) - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	if lim.Limit() <= 0 {
		return time.Hour
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// writeRateLimited answers 429 with Retry-After (whole seconds, at least 1).
func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	secs := int64(math.Ceil(wait.Seconds()))
	secs = min(max(secs, 1), 3600)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests; try again in a moment")
}

// limiterTable holds one token bucket per client, at most max of them,
// forgetting the least recently seen first. It is sharded so that
// concurrent requests rarely share a lock.
type limiterTable struct {
	rate   rate.Limit
	burst  int
	seed   maphash.Seed
	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	max     int
	clients map[string]*list.Element // of *clientBucket
	lru     list.List                // front: most recently seen
}

type clientBucket struct {
	key string
	lim *rate.Limiter
}

func newLimiterTable(r Rate, maxClients int) *limiterTable {
	t := &limiterTable{rate: rate.Limit(r.PerSecond), burst: r.Burst, seed: maphash.MakeSeed()}
	perShard := max(maxClients/limiterShards, 1)
	for i := range t.shards {
		t.shards[i].max = perShard
		t.shards[i].clients = make(map[string]*list.Element)
	}
	return t
}

func (t *limiterTable) allow(key string, now time.Time, n int) (time.Duration, bool) {
	s := &t.shards[maphash.String(t.seed, key)%limiterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *clientBucket
	if e, ok := s.clients[key]; ok {
		s.lru.MoveToFront(e)
		b = e.Value.(*clientBucket)
	} else {
		if s.lru.Len() >= s.max {
			oldest := s.lru.Back()
			s.lru.Remove(oldest)
			delete(s.clients, oldest.Value.(*clientBucket).key)
		}
		b = &clientBucket{key: key, lim: rate.NewLimiter(t.rate, t.burst)}
		s.clients[key] = s.lru.PushFront(b)
	}
	if b.lim.AllowN(now, n) {
		return 0, true
	}
	return tokenWait(b.lim, now, n), false
}

// len returns the number of clients tracked.
func (t *limiterTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// admit applies the rate limit of class to r, answering 429 if it is over.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, class endpointClass) bool {
	ref, ok := h.limiter.check(r, class)
	if !ok {
		h.log.DebugContext(r.Context(), "httpadapter: rate limited", "class", ref.Class)
		if h.limiter.onRefused != nil {
			h.limiter.onRefused(r, ref)
		}
		writeRateLimited(w, ref.RetryAfter)
	}
	return ok
}

// logSharedLimiterFailure logs a RateLimit.Shared failure, at most once
// every 10 seconds (an outage would otherwise log every request).
func (h *Handler) logSharedLimiterFailure(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	last := h.sharedLimiterLogged.Load()
	if now-last < int64(10*time.Second) || !h.sharedLimiterLogged.CompareAndSwap(last, now) {
		return
	}
	h.log.WarnContext(ctx, "httpadapter: shared rate limiter failed; counting in this process", "err", err)
}
