package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pneumoscan/model"
	"pneumoscan/screen"
	"pneumoscan/server/api"
	"pneumoscan/server/httpserve"
	"pneumoscan/server/site"
	"pneumoscan/server/tlscert"
)

func TestDefaultAddrIsLoopback(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil || c.addr != "127.0.0.1:8080" || !isLoopback(host) || port != "8080" {
		t.Errorf("default -addr %q (%v): want 127.0.0.1:8080", c.addr, err)
	}
	for _, h := range []string{"", "0.0.0.0", "::", "192.168.1.2"} {
		if isLoopback(h) {
			t.Errorf("isLoopback(%q)", h)
		}
	}
}

// TestMakeRunAddr: `make run` passes -addr 127.0.0.1:8080 unless ADDR says otherwise, and
// TLS_DIR/TLS_HOSTS become the self-signed flags (make -n prints without running).
func TestMakeRunAddr(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	for _, c := range []struct {
		vars []string
		want string
	}{
		{nil, "./server -addr 127.0.0.1:8080 -model models/default.onnx -static static"},
		{[]string{"ADDR=0.0.0.0:8443"}, "./server -addr 0.0.0.0:8443 "},
		{[]string{"ADDR=0.0.0.0:8443", "TLS_DIR=.cache/tls", "TLS_HOSTS=a.lan,10.0.0.2"}, "-tls-self-signed .cache/tls -tls-host a.lan,10.0.0.2"},
	} {
		cmd := exec.Command("make", append([]string{"-n", "-s", "run"}, c.vars...)...)
		cmd.Dir = ".."
		cmd.Env = nil // the caller's own ADDR etc. are not the defaults under test
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if k != "ADDR" && k != "TLS_DIR" && k != "TLS_HOSTS" && k != "SERVER_FLAGS" && k != "MAKEFLAGS" && k != "MFLAGS" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n run %v: %v\n%s", c.vars, err, out)
		}
		var line string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "./server -addr") {
				line = l
			}
		}
		if !strings.Contains(line, c.want) {
			t.Errorf("make run %v runs %q; want it to contain %q", c.vars, line, c.want)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "c.pem"},
		{"-tls-key", "k.pem"},
		{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-self-signed", "dir"},
		{"-tls-host", "a.lan"},
		{"-max-inflight", "0"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	c, err := parseFlags([]string{"-tls-self-signed", "d", "-tls-host", " a.lan, ,10.0.0.2 ", "-max-inflight", "2"}, io.Discard)
	if err != nil || c.tlsSelfSigned != "d" || strings.Join(c.tlsHosts, "|") != "a.lan|10.0.0.2" || c.maxInflight != 2 {
		t.Errorf("%+v %v", c, err)
	}
}

type fakeScreener struct{}

func (fakeScreener) Metadata() model.Metadata { return model.Metadata{Name: "fake", Version: "0"} }
func (fakeScreener) SHA256() string           { return strings.Repeat("cd", 32) }
func (fakeScreener) Screen(data []byte) (screen.Result, error) {
	return screen.Result{Prob: 0.5, Width: 1, Height: 1}, nil
}

func staticDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!DOCTYPE html><script src="/app.js" defer></script>`), 0o644)
	os.WriteFile(filepath.Join(dir, "web", "app.css"), []byte("body{}"), 0o644)
	// The site is made for the shipped model, as `make static` would.
	b, err := os.ReadFile("../models/default.onnx")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	manifest, _ := json.Marshal(site.ModelManifest{URL: "/web/models/x.onnx", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))})
	os.WriteFile(filepath.Join(dir, "web", "model.json"), manifest, 0o644)
	return dir
}

// TestRefusesSiteOfAnotherModel: a site generated for another model is refused, with the
// command that fixes it, so the page and the API never screen with different models.
func TestRefusesSiteOfAnotherModel(t *testing.T) {
	dir := staticDir(t)
	if err := checkSiteModel(dir, strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "generated for another model") || !strings.Contains(err.Error(), "make run MODEL=") {
		t.Errorf("another model's site: err = %v", err)
	}
	b, _ := os.ReadFile("../models/default.onnx")
	sum := sha256.Sum256(b)
	if err := checkSiteModel(dir, hex.EncodeToString(sum[:])); err != nil {
		t.Errorf("the site's own model refused: %v", err)
	}
	if err := checkSiteModel(t.TempDir(), hex.EncodeToString(sum[:])); err == nil || !strings.Contains(err.Error(), "make static") {
		t.Errorf("no site: err = %v", err)
	}
}

// TestHandler: the whole site's routing and headers: every route in the OpenAPI document
// reaches the API, unknown paths the static files, and every answer has the security headers.
func TestHandler(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	l := log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logged.Write(p) }), "", 0)
	srv := httptest.NewServer(newHandler(fakeScreener{}, staticDir(t), httpserve.BaseCSP, 1, l))
	defer srv.Close()

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	type check struct {
		method, path string
		status       int
		ctype        string
	}
	checks := []check{
		{"GET", "/", 200, "text/html"},
		{"GET", "/web/app.css", 200, "text/css"},
		{"GET", "/nothing.js", 404, ""},
		{"GET", "/api/v1/screen", 405, "application/json"},
		{"GET", "/api/v1/nope", 404, "application/json"},
		{"POST", "/", 405, ""},
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			checks = append(checks, check{strings.ToUpper(m), path, 200, "application/json"})
		}
	}
	if len(checks) < 10 {
		t.Fatalf("the OpenAPI document names only %d operations", len(checks)-6)
	}
	for _, c := range checks {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader("image bytes"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status || !strings.HasPrefix(res.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: %d %q; want %d %q", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), c.status, c.ctype)
		}
		for k, v := range map[string]string{"Content-Security-Policy": httpserve.BaseCSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if res.Header.Get(k) != v {
				t.Errorf("%s %s: %s %q", c.method, c.path, k, res.Header.Get(k))
			}
		}
	}
	// The access line is written once the handler has returned, which can be just after the
	// client has read its answer: wait for the last one (at most 5 s) before counting.
	lines := func() int { mu.Lock(); defer mu.Unlock(); return strings.Count(logged.String(), "access: ") }
	for deadline := time.Now().Add(5 * time.Second); lines() < len(checks) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logged.String(), "\naccess: ") + 1; n != len(checks) || !strings.HasPrefix(logged.String(), "access: ") {
		t.Errorf("%d access lines for %d requests:\n%s", n, len(checks), logged.String())
	}
	if !regexp.MustCompile(`access: POST "/api/v1/screen" 200 \S+ \d+B upload=[0-9a-f]{12}\n`).MatchString(logged.String()) {
		t.Errorf("no access line with the upload's hash:\n%s", logged.String())
	}
}

// TestGeneratedPageCSP generates the real page (go-app's index.html, with stand-in wasm) and
// checks the policy fits it: nothing loaded from another origin, and every script either a
// same-origin file or allowed by its hash.
func TestGeneratedPageCSP(t *testing.T) {
	in := t.TempDir()
	o := site.Options{Dir: filepath.Join(t.TempDir(), "static"), AppWasm: filepath.Join(in, "app.wasm"),
		WorkerWasm: filepath.Join(in, "worker.wasm"), RefWorkerWasm: filepath.Join(in, "refworker.wasm"), Model: "../models/default.onnx"}
	for _, name := range []string{o.AppWasm, o.WorkerWasm, o.RefWorkerWasm} {
		os.WriteFile(name, []byte("\x00asm"), 0o644)
	}
	if _, err := site.Generate(o); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(o.Dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)(src|href|content|action)\s*=\s*"?(https?:)?//[^"]*`).FindAll(page, -1); len(m) > 0 {
		t.Errorf("index.html refers to other origins, which the policy blocks: %q", m)
	}
	csp := httpserve.CSP(page)
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllSubmatch(page, -1) {
		if src := regexp.MustCompile(`src="([^"]*)"`).FindSubmatch(m[1]); src != nil {
			if !strings.HasPrefix(string(src[1]), "/") {
				t.Errorf("script %q is not a same-origin path", src[1])
			}
		} else if csp == httpserve.BaseCSP {
			t.Errorf("inline script %.40q but no hash in the policy", m[2])
		}
	}
	for _, f := range []string{"app.js", "app-worker.js", "web/worker.js", "app.css", "web/pneumoscan.css"} {
		b, err := os.ReadFile(filepath.Join(o.Dir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(fetch|importScripts|url)\(\s*["']?(https?:)?//`).Find(b); m != nil {
			t.Errorf("%s loads from another origin: %q", f, m)
		}
	}
	t.Logf("policy for the generated page: %s", csp)
}

// TestServeSelfSignedTLS runs the real server (the committed model, a stand-in site) with
// -tls-self-signed on a loopback port, fetches /healthz with a client that trusts only the
// made certificate, restarts and gets the same certificate, then shuts down via the context.
func TestServeSelfSignedTLS(t *testing.T) {
	tlsDir := filepath.Join(t.TempDir(), "tls")
	c, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-model", "../models/default.onnx", "-static", staticDir(t),
		"-tls-self-signed", tlsDir, "-tls-host", "scanner.clinic.lan"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var fingerprints []string
	for i := range 2 {
		var logged bytes.Buffer
		var mu sync.Mutex
		l := log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logged.Write(p) }), "", 0)
		ctx, cancel := context.WithCancel(context.Background())
		addrc := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, c, l, func(scheme string, a net.Addr) {
				if scheme != "https" {
					t.Errorf("scheme %s", scheme)
				}
				addrc <- a
			})
		}()
		var addr net.Addr
		select {
		case addr = <-addrc:
		case err := <-done:
			t.Fatalf("run: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("server did not start")
		}
		pem, err := os.ReadFile(filepath.Join(tlsDir, tlscert.CertName))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		res, err := client.Get("https://" + addr.String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var h api.Health
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if res.StatusCode != 200 || h.Status != "ok" || len(h.ModelSHA256) != 64 || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("start %d: /healthz %d %+v", i, res.StatusCode, h)
		}
		fingerprints = append(fingerprints, tlscert.Fingerprint(res.TLS.PeerCertificates[0].Raw))
		tr.CloseIdleConnections()
		// Plain HTTP on the HTTPS port gets Go's 400, never the API.
		if res, err := http.Get("http://" + addr.String() + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("start %d: plain HTTP on the HTTPS port answered %d", i, res.StatusCode)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("start %d: run after shutdown: %v", i, err)
			}
		case <-time.After(40 * time.Second):
			t.Fatal("server did not stop")
		}
		mu.Lock()
		out := logged.String()
		mu.Unlock()
		if !strings.Contains(out, "SHA-256 fingerprint "+fingerprints[i]) || !strings.Contains(out, "pneumoscan: stopped") {
			t.Errorf("start %d: log lacks the fingerprint or the stop:\n%s", i, out)
		}
		if want := []string{"made a new", "reusing"}[i]; !strings.Contains(out, want) {
			t.Errorf("start %d: log does not say %q:\n%s", i, want, out)
		}
	}
	if fingerprints[0] != fingerprints[1] {
		t.Errorf("the second start served another certificate: %s vs %s", fingerprints[0], fingerprints[1])
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
