package httpserve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSecurityHeaders(t *testing.T) {
	h := SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/err" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		io.WriteString(w, "ok")
	}), BaseCSP)
	for _, p := range []string{"/", "/err"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		for k, v := range map[string]string{
			"Content-Security-Policy": BaseCSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", p, k, got, v)
			}
		}
	}
}

// directives parses a policy into directive -> sources.
func directives(p string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(p, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

// TestBaseCSP pins what the page needs and that nothing else is allowed: only 'self' (plus
// blob:/data: images), no 'unsafe-inline' for scripts or style sheets, no 'unsafe-eval', no
// other origin.
func TestBaseCSP(t *testing.T) {
	d := directives(BaseCSP)
	want := map[string]string{
		"default-src": "'self'", "script-src": "'self' 'wasm-unsafe-eval'", "worker-src": "'self'", "connect-src": "'self' blob:",
		"img-src": "'self' blob: data:", "style-src": "'self'", "style-src-attr": "'unsafe-inline'", "object-src": "'none'",
		"base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'",
	}
	for k, v := range want {
		if got := strings.Join(d[k], " "); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	if len(d) != len(want) {
		t.Errorf("policy has %d directives, want %d: %s", len(d), len(want), BaseCSP)
	}
	if strings.Contains(BaseCSP, "http") || strings.Contains(BaseCSP, "*") || strings.Contains(BaseCSP, "'unsafe-eval'") {
		t.Errorf("policy allows another origin or eval: %s", BaseCSP)
	}
}

func TestCSPHashesInlineScripts(t *testing.T) {
	page := []byte(`<html><head><script src="/app.js" defer></script><SCRIPT>go()</SCRIPT>` +
		`<style>.a{color:red}</style></head><body><script type="module">
x()</script></body></html>`)
	p := CSP(page)
	d := directives(p)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	if got, want := strings.Join(d["script-src"], " "), "'self' "+hash("go()")+" "+hash("\nx()")+" 'wasm-unsafe-eval'"; got != want {
		t.Errorf("script-src %q, want %q", got, want)
	}
	if got, want := strings.Join(d["style-src"], " "), "'self' "+hash(".a{color:red}"); got != want {
		t.Errorf("style-src %q, want %q", got, want)
	}
	if strings.Count(p, "'unsafe-inline'") != 1 {
		t.Errorf("unsafe-inline beyond style attributes: %s", p)
	}
	if got := CSP([]byte(`<script src="/wasm_exec.js" defer></script><script defer src="/app.js"></script>`)); got != BaseCSP {
		t.Errorf("a page of external scripts only: %s, want BaseCSP", got)
	}
}

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	l := log.New(&buf, "", 0)
	h := AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			NoteUpload(r, strings.Repeat("0123456789abcdef", 4))
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "12345")
		case "/implicit":
			io.WriteString(w, "abc")
		default:
			http.NotFound(w, r)
		}
	}), l)
	for _, target := range []string{"/upload?name=Jane+Doe.png", "/implicit", "/missing\nfake: line"} {
		r := httptest.NewRequest("POST", "/", nil)
		r.URL.Path, r.URL.RawQuery, _ = strings.Cut(target, "?")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	for i, c := range []struct{ prefix, suffix string }{
		{`access: POST "/upload" 201 `, " 5B upload=0123456789ab"},
		{`access: POST "/implicit" 200 `, " 3B"},
		{`access: POST "/missing\nfake: line" 404 `, "B"},
	} {
		if !strings.HasPrefix(lines[i], c.prefix) || !strings.HasSuffix(lines[i], c.suffix) {
			t.Errorf("line %d %q; want %q...%q", i, lines[i], c.prefix, c.suffix)
		}
	}
	if strings.Contains(buf.String(), "Jane") || strings.Contains(buf.String(), "name=") {
		t.Errorf("the query string was logged: %q", buf.String())
	}
}

func TestServerTimeouts(t *testing.T) {
	s := NewServer(http.NotFoundHandler(), nil, nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Errorf("timeouts %v %v %v %v: all must be set", s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
	// A client that never finishes its headers is cut off (slowloris).
	s.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.ReadAll(c) // returns when the server closes the connection
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("connection with unfinished headers kept for %v", d)
	}
}

// TestGracefulShutdown: cancelling Serve's context lets a request in flight finish, then
// Serve returns nil and the listener is closed.
func TestGracefulShutdown(t *testing.T) {
	started, finish := make(chan struct{}), make(chan struct{})
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-finish
		io.WriteString(w, "finished")
	}), nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, "", "", 10*time.Second) }()

	var wg sync.WaitGroup
	var body string
	var reqErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			reqErr = err
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body = string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(finish)
	wg.Wait()
	if reqErr != nil || body != "finished" {
		t.Errorf("request in flight: %q, %v", body, reqErr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("still accepting after shutdown")
	}
}
