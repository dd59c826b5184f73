package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// progress draws a progress bar on r.opts.Log every interval: how much of
// the run's bound is used (the larger of time, -max-logins and
// -max-requests), logins so far, the rate, mean and maximum login latency
// over the last interval, errors. On a terminal the bar is redrawn in
// place; otherwise (a file, CI) each update is a line of its own.
func (r *runner) progress(ctx context.Context, start time.Time, done, sumNanos, maxNanos, requests *atomic.Int64) {
	tick := time.NewTicker(r.opts.Progress)
	defer tick.Stop()
	tty := isTerminal(r.opts.Log)
	lastN, lastSum, lastT := int64(0), int64(0), start
	total := r.opts.Warmup + r.opts.Duration
	for {
		var now time.Time
		final := false
		select {
		case <-ctx.Done():
			now, final = time.Now(), true // the phase ended: a last update
		case now = <-tick.C:
		}
		{
			n, sum := done.Load(), sumNanos.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			mean := 0.0
			if n > lastN {
				mean = ms(time.Duration((sum - lastSum) / (n - lastN)))
			}
			frac := 0.0
			if final {
				frac = 1
			} else if total > 0 {
				frac = float64(now.Sub(start)) / float64(total)
			}
			if r.opts.MaxLogins > 0 {
				frac = max(frac, float64(n)/float64(r.opts.MaxLogins))
			}
			if r.opts.MaxRequests > 0 {
				frac = max(frac, float64(requests.Load()+r.signupRequests.Load())/float64(r.opts.MaxRequests))
			}
			line := fmt.Sprintf("%s %3.0f%% [%6.1fs] %s: %d logins, %.0f/s, login mean %.2f ms, max %.2f ms, errors %d",
				bar(frac, 20), 100*min(frac, 1), now.Sub(start).Seconds(), r.opts.Label, n, rate, mean,
				ms(time.Duration(maxNanos.Swap(0))), r.errors.Load())
			if tty {
				fmt.Fprintf(r.opts.Log, "\r%s\x1b[K", line)
			} else {
				fmt.Fprintln(r.opts.Log, line)
			}
			lastN, lastSum, lastT = n, sum, now
		}
		if final {
			if tty {
				fmt.Fprintln(r.opts.Log)
			}
			return
		}
	}
}

// bar renders frac (0 to 1) as [#####.....] of width cells.
func bar(frac float64, width int) string {
	filled := int(min(max(frac, 0), 1) * float64(width))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
