package app

import (
	"sync"
	"time"
)

const (
	passwordWindow = 15 * time.Minute
	// maxLimiterKeys bounds the limiter's memory: when that many addresses
	// are counted, the oldest windows are dropped.
	maxLimiterKeys = 100_000
)

// failureLimiter counts wrong passwords per email address in fixed windows,
// in this process (several instances would share a counter in their
// database or Redis instead). It bounds guessing of one account and the
// bcrypt work spent on it.
type failureLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	counts map[string]*failures
}

type failures struct {
	n     int
	start time.Time
}

func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: now, counts: map[string]*failures{}}
}

// blocked reports whether key used up its failures, and the seconds left.
func (l *failureLimiter) blocked(key string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.counts[key]
	if !ok {
		return 0, false
	}
	left := f.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.counts, key)
		return 0, false
	}
	return int(left.Seconds()) + 1, f.n >= l.max
}

func (l *failureLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.counts[key]
	if !ok || now.Sub(f.start) >= l.window {
		if !ok && len(l.counts) >= maxLimiterKeys {
			for k, v := range l.counts {
				if now.Sub(v.start) >= l.window || len(l.counts) >= maxLimiterKeys {
					delete(l.counts, k)
				}
				if len(l.counts) < maxLimiterKeys/2 {
					break
				}
			}
		}
		f = &failures{start: now}
		l.counts[key] = f
	}
	f.n++
}
