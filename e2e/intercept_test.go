package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pausedRequest is a request paused by the CDP Fetch domain.
type pausedRequest struct {
	URL  string
	Body []byte
	// Cookies the browser holds for the request's URL at the time it was
	// paused (the request is not sent yet).
	Cookies map[string]string
}

// interceptRequests pauses every request of the tab whose URL matches
// pattern (Fetch.enable, request stage) and passes it to edit, which
// returns the body to send instead (nil: unchanged). The returned stop
// disables the interception. Unlike a fetch wrapper in the page, this is
// below every script: the page cannot tell.
func (tb *tab) interceptRequests(t *testing.T, pattern string, edit func(r pausedRequest) []byte) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(tb.ctx)
	events := chromedp.Events(ctx, fetch.RequestPaused) // subscribed from here on
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			r := pausedRequest{URL: ev.Request.URL, Cookies: map[string]string{}}
			for _, e := range ev.Request.PostDataEntries {
				r.Body = append(r.Body, e.Bytes...)
			}
			if res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{r.URL}}); err == nil {
				for _, c := range res.Cookies {
					r.Cookies[c.Name] = c.Value
				}
			}
			p := fetch.ContinueRequestParams{RequestID: ev.RequestID}
			if body := edit(r); body != nil {
				p.PostData = body
			}
			if _, err := chromedp.Call(ctx, fetch.ContinueRequest, p); err != nil && ctx.Err() == nil {
				fmt.Fprintf(tb.console, "%s: Fetch.continueRequest: %v\n", tb.name, err)
			}
		}
	})
	tb.call(t, "Fetch.enable", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: pattern, RequestStage: fetch.RequestStageRequest},
		}})
		return err
	})
	return func() {
		t.Helper()
		tb.call(t, "Fetch.disable", func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, fetch.Disable, struct{}{})
			return err
		})
		cancel()
		wg.Wait()
	}
}

// tamperSignature returns an authentication response JSON
// (AuthenticationResponseJSON, as posted to login/finish) with one bit of
// response.signature flipped.
func tamperSignature(body []byte) ([]byte, error) {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	resp, ok := v["response"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no response object in %s", body)
	}
	sigText, _ := resp["signature"].(string)
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(sig) < 8 {
		return nil, fmt.Errorf("bad signature %q: %v", sigText, err)
	}
	// An ECDSA signature is DER: SEQUENCE { r, s }. Flip a bit in the middle
	// of the integers, keeping the encoding valid, so that only the
	// cryptographic check can catch it.
	sig[len(sig)/2] ^= 0x01
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	return json.Marshal(v)
}
