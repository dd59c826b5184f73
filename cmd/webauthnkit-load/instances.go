package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// maxInstances bounds -instances.
const maxInstances = 16

// startInstances serves the adapter over st from n servers in this
// process (each with its own RelyingParty and adapter, the same secrets,
// as n instances of an app sharing the stores), behind a round-robin
// reverse proxy on loopback. It returns the proxy as the server to load
// (its calls count every instance's store calls) and a function that
// stops everything.
//
// On one machine this measures what the proxy hop and n adapters cost,
// not scaling: the instances share the machine's cores.
func startInstances(st *stores, n int, countCalls bool) (*server, func() error, error) {
	if n < 2 || n > maxInstances {
		return nil, nil, fmt.Errorf("-instances %d: want 1 to %d", n, maxInstances)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	origin := "http://" + ln.Addr().String()
	calls := storewrap.New(st.creds, st.cers)
	var (
		backends []*url.URL
		servers  []*server
	)
	stopAll := func() error {
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.close())
		}
		return errors.Join(errs...)
	}
	for range n {
		s, err := startServerWith(serverConfig{stores: st, addr: "127.0.0.1:0", countCalls: countCalls,
			rateLimit: httpadapter.RateLimit{Disabled: true}, origin: origin, calls: calls})
		if err != nil {
			ln.Close()
			return nil, nil, errors.Join(err, stopAll())
		}
		servers = append(servers, s)
		u, _ := url.Parse(s.url)
		backends = append(backends, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := backends[(next.Add(1)-1)%uint64(len(backends))]
			r.SetURL(b)
			r.Out.Host = r.In.Host // the origin's host, as a load balancer keeps it
		},
		Transport: newTransport(256),
	}
	front := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- front.Serve(ln) }()
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := front.Shutdown(ctx)
		<-done
		return errors.Join(err, stopAll())
	}
	return &server{url: origin + mountPath, origin: origin, calls: calls}, stop, nil
}
