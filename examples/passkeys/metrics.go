package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/webauthnkit/webauthnkit/audit"
	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
)

// metricsServer serves Prometheus' /metrics on its own listener (-metrics-addr),
// never on the app's: the endpoint has no authentication, so it belongs on
// loopback or a private interface that only the scraper reaches.
type metricsServer struct {
	tel *webauthnotel.Telemetry
	mp  *sdkmetric.MeterProvider
	srv *http.Server
	l   net.Listener
}

// startMetrics listens on addr and serves the webauthnkit metrics, and the
// Go runtime's and the process', at /metrics.
func startMetrics(addr string, log *slog.Logger) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	tel, err := webauthnotel.New(webauthnotel.Options{MeterProvider: mp})
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	if tcp, ok := l.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("passkeys: /metrics is served without authentication on a non-loopback address: let only the scraper reach it", "addr", l.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	m := &metricsServer{tel: tel, mp: mp, l: l, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
	}}
	go func() {
		if err := m.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("passkeys: metrics listener", "err", err)
		}
	}()
	log.Info("passkeys: metrics at http://" + l.Addr().String() + "/metrics")
	return m, nil
}

func (m *metricsServer) Close(ctx context.Context) error {
	return errors.Join(m.srv.Shutdown(ctx), m.mp.Shutdown(ctx))
}

// monitoring sets cfg.Telemetry (-metrics-addr) and cfg.AuditLog
// (-audit-log); the function returned stops both.
func monitoring(cfg *app.Config, metricsAddr, auditLog string, auditUsernames bool, log *slog.Logger) (func(), error) {
	var closers []func()
	stop := func() {
		for _, c := range closers {
			c()
		}
	}
	if metricsAddr != "" {
		m, err := startMetrics(metricsAddr, log)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = m.Close(ctx)
		})
		cfg.Telemetry = m.tel
	}
	if auditLog != "" {
		al, closeAudit, err := openAudit(auditLog, auditUsernames)
		if err != nil {
			stop()
			return nil, err
		}
		closers = append(closers, func() { _ = closeAudit() })
		cfg.AuditLog = al
	} else if auditUsernames {
		stop()
		return nil, errors.New("-audit-usernames needs -audit-log")
	}
	return stop, nil
}

// openAudit opens -audit-log: "-" is standard output, anything else a file
// appended to (created with mode 0600: the log names accounts).
func openAudit(path string, usernames bool) (*audit.Logger, func() error, error) {
	if path == "-" {
		return audit.NewJSON(os.Stdout, audit.Options{IncludeUsername: usernames}), func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("-audit-log: %w", err)
	}
	return audit.NewJSON(f, audit.Options{IncludeUsername: usernames}), f.Close, nil
}
