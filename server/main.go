// Command server generates pneumoscan's static site and serves it with the JSON API.
//
//	server -gen                          generate static/ from bin/*.wasm and the model, then exit
//	server [-addr 127.0.0.1:8080]        serve static/, /api/v1/ and /healthz over HTTP
//	server -tls-self-signed DIR [...]    the same over HTTPS with a self-signed certificate kept in DIR
//	server -tls-cert FILE -tls-key FILE  the same over HTTPS with the clinic's own certificate
//
// It listens on the loopback interface unless -addr says otherwise, sets security headers on
// every response, logs one line per request (never a file name or image data), and shuts
// down gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"pneumoscan/convnet"
	"pneumoscan/screen"
	"pneumoscan/server/api"
	"pneumoscan/server/files"
	"pneumoscan/server/httpserve"
	"pneumoscan/server/site"
	"pneumoscan/server/tlscert"
)

// DefaultAddr is loopback only: exposing the server to a network is a decision (-addr).
const DefaultAddr = "127.0.0.1:8080"

type config struct {
	addr, modelPath, static string
	gen                     bool
	wasmDir                 string
	tlsCert, tlsKey         string
	tlsSelfSigned           string
	tlsHosts                []string
	maxInflight             int
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.addr, "addr", DefaultAddr, "listen address (host:port); e.g. 0.0.0.0:8443 to serve the clinic's network")
	fs.StringVar(&c.modelPath, "model", "models/default.onnx", "ONNX model file (the model contract)")
	fs.StringVar(&c.static, "static", "static", "generated site directory")
	fs.BoolVar(&c.gen, "gen", false, "only generate the static site, then exit")
	fs.StringVar(&c.wasmDir, "wasm", "bin", "directory holding the built app.wasm, worker.wasm and refworker.wasm (for -gen)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs -tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the PEM private key of -tls-cert")
	fs.StringVar(&c.tlsSelfSigned, "tls-self-signed", "", "serve HTTPS with a self-signed certificate kept in this directory (made on first use, then reused)")
	hosts := fs.String("tls-host", "", "comma-separated extra DNS names or IP addresses for the -tls-self-signed certificate (localhost, 127.0.0.1, ::1 and the host name are always in it)")
	fs.IntVar(&c.maxInflight, "max-inflight", api.DefaultMaxInflight, "screenings POST /api/v1/screen runs at once; more are answered 503 with Retry-After: 1")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.tlsHosts = append(c.tlsHosts, h)
		}
	}
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return c, errors.New("-tls-cert and -tls-key go together")
	case c.tlsCert != "" && c.tlsSelfSigned != "":
		return c, errors.New("use -tls-cert/-tls-key or -tls-self-signed, not both")
	case len(c.tlsHosts) > 0 && c.tlsSelfSigned == "":
		return c, errors.New("-tls-host names are for the -tls-self-signed certificate")
	case c.maxInflight < 1:
		return c, fmt.Errorf("-max-inflight %d: at least 1", c.maxInflight)
	}
	return c, nil
}

func main() {
	log.SetFlags(0)
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	if c.gen {
		res, err := site.Generate(site.Options{
			Dir: c.static, Model: c.modelPath,
			AppWasm: filepath.Join(c.wasmDir, "app.wasm"), WorkerWasm: filepath.Join(c.wasmDir, "worker.wasm"),
			RefWorkerWasm: filepath.Join(c.wasmDir, "refworker.wasm"),
		})
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("generated %s: app version %s, model %s (%d bytes)", c.static, res.Version, res.Model.SHA256[:12], res.Model.Size)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, log.Default(), nil); err != nil {
		log.Fatal(err)
	}
}

// newHandler is the whole site: the API at api.Paths, the static files everywhere else,
// security headers on every response, and the access log around it all.
func newHandler(s api.Screener, static, csp string, maxInflight int, l *log.Logger) http.Handler {
	mux := http.NewServeMux()
	a := api.NewWithOptions(s, api.Options{MaxInflight: maxInflight})
	for _, p := range api.Paths {
		mux.Handle(p, a)
	}
	mux.Handle("/", files.New(static))
	return httpserve.AccessLog(httpserve.SecurityHeaders(mux, csp), l)
}

// run serves until ctx is done, then shuts down gracefully. ready, when not nil, is told the
// listening address and the scheme once the server accepts connections.
func run(ctx context.Context, c config, l *log.Logger, ready func(scheme string, addr net.Addr)) error {
	index, err := os.ReadFile(filepath.Join(c.static, "index.html"))
	if err != nil {
		return fmt.Errorf("%s/index.html is missing: run `make static` (or `server -gen`) first", c.static)
	}
	data, err := os.ReadFile(c.modelPath)
	if err != nil {
		return err
	}
	s, err := screen.New(data, convnet.Engine)
	if err != nil {
		return fmt.Errorf("loading %s: %v", c.modelPath, err)
	}

	if err := checkSiteModel(c.static, s.SHA256()); err != nil {
		return err
	}

	certFile, keyFile := c.tlsCert, c.tlsKey
	switch {
	case c.tlsSelfSigned != "":
		cert, err := tlscert.Ensure(c.tlsSelfSigned, c.tlsHosts)
		if err != nil {
			return fmt.Errorf("-tls-self-signed: %v", err)
		}
		certFile, keyFile = cert.CertFile, cert.KeyFile
		if cert.Created {
			l.Printf("tls: made a new self-signed certificate in %s (%s)", c.tlsSelfSigned, cert.Reason)
		} else {
			l.Printf("tls: reusing the self-signed certificate in %s", c.tlsSelfSigned)
		}
		l.Printf("tls: certificate for %s, valid until %s", strings.Join(cert.Names, ", "), cert.NotAfter.Format("2006-01-02"))
		l.Printf("tls: SHA-256 fingerprint %s", cert.Fingerprint)
	case certFile != "":
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %v", err)
		}
		fp, err := tlscert.FileFingerprint(certFile)
		if err != nil {
			return err
		}
		l.Printf("tls: certificate %s, SHA-256 fingerprint %s", certFile, fp)
	}

	csp := httpserve.CSP(index)
	if csp != httpserve.BaseCSP {
		l.Printf("csp: %s/index.html has inline script or style; allowed by hash: %s", c.static, csp)
	}
	var tlsConfig *tls.Config
	scheme := "http"
	if certFile != "" {
		tlsConfig, scheme = httpserve.TLSConfig(), "https"
	}
	srv := httpserve.NewServer(newHandler(s, c.static, csp, c.maxInflight, l), tlsConfig, l)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	m := s.Metadata()
	l.Printf("pneumoscan: serving %s and the API (model %s %s, sha256 %.12s) on %s://%s", c.static, m.Name, m.Version, s.SHA256(), scheme, ln.Addr())
	if host, _, _ := net.SplitHostPort(c.addr); scheme == "http" && !isLoopback(host) {
		l.Printf("warning: plain HTTP on %s reaches the network unencrypted, and browsers run the page offline (service worker) only over HTTPS or on localhost: use -tls-self-signed DIR or -tls-cert/-tls-key", c.addr)
	}
	if ready != nil {
		ready(scheme, ln.Addr())
	}
	err = httpserve.Serve(ctx, srv, ln, certFile, keyFile, httpserve.ShutdownTimeout)
	if err == nil {
		l.Printf("pneumoscan: stopped")
	}
	return err
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkSiteModel refuses a site generated for another model: the page would screen with the
// model in static/web/model.json while the API used this one, and the two would disagree.
func checkSiteModel(static, modelSHA string) error {
	b, err := os.ReadFile(filepath.Join(static, "web", "model.json"))
	if err != nil {
		return fmt.Errorf("%s was not generated by `make static` (%v)", static, err)
	}
	var m site.ModelManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s/web/model.json: %v", static, err)
	}
	if m.SHA256 != modelSHA {
		return fmt.Errorf("%s was generated for another model (sha256 %.12s), not this one (sha256 %.12s): run `make static MODEL=...` with this model, or `make run MODEL=...`, which regenerates it", static, m.SHA256, modelSHA)
	}
	return nil
}
