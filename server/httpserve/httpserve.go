// Package httpserve is what wraps pneumoscan's handlers for a real deployment: security
// headers on every response, one access-log line per request, an http.Server with timeouts,
// and serving (HTTP or HTTPS) until a context ends, then a graceful shutdown.
package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"time"
)

// Timeouts of the http.Server. An upload may be 64 MB on a slow clinic network (about a
// minute at 10 Mbit/s); a response may be the 30 MB reference worker on the same network.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 2 * time.Minute
	WriteTimeout      = 5 * time.Minute
	IdleTimeout       = 2 * time.Minute
	// ShutdownTimeout is how long a stopping server waits for requests in flight.
	ShutdownTimeout = 30 * time.Second
)

// NewServer returns an http.Server for h with the timeouts above; tlsConfig may be nil.
func NewServer(h http.Handler, tlsConfig *tls.Config, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          errorLog,
	}
}

// TLSConfig is the server's TLS configuration: TLS 1.2 or later, Go's default cipher suites.
func TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// Serve serves srv on ln (HTTPS when certFile is not empty) until ctx is done, then shuts
// down gracefully: it stops accepting, lets requests in flight finish for up to
// shutdownTimeout, and returns nil. An error serving or shutting down is returned.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string, shutdownTimeout time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc: // failed before any shutdown
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
	}
	return err
}
