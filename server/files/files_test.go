package files

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func site(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":                     "<!DOCTYPE html><title>x</title>" + strings.Repeat(" ", 2000),
		"web/app.wasm":                   "\x00asm" + strings.Repeat("\x00", 5000),
		"manifest.webmanifest":           `{"name":"x"}`,
		"web/models/abc.onnx":            "model bytes",
		"secret-outside-root-is-ignored": "",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(h http.Handler, path, enc string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if enc != "" {
		r.Header.Set("Accept-Encoding", enc)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTypesAndCaching(t *testing.T) {
	h := New(site(t))
	for _, c := range []struct{ path, ctype, cache string }{
		{"/", "text/html; charset=utf-8", "no-cache"},
		{"/web/app.wasm", "application/wasm", "no-cache"},
		{"/manifest.webmanifest", "application/manifest+json", "no-cache"},
		{"/web/models/abc.onnx", "application/octet-stream", "public, max-age=31536000, immutable"},
	} {
		w := get(h, c.path, "")
		if w.Code != 200 || w.Header().Get("Content-Type") != c.ctype || w.Header().Get("Cache-Control") != c.cache {
			t.Errorf("%s: %d %q %q; want 200 %q %q", c.path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), c.ctype, c.cache)
		}
	}
	for _, p := range []string{"/nope.js", "/../../etc/passwd", "/web/../../x"} {
		if w := get(h, p, ""); w.Code != 404 {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}

func TestGzip(t *testing.T) {
	dir := site(t)
	h := New(dir)
	want, _ := os.ReadFile(filepath.Join(dir, "web", "app.wasm"))
	w := get(h, "/web/app.wasm", "br, gzip")
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, want) {
		t.Error("gunzipped body differs from the file")
	}
	if w := get(h, "/web/app.wasm", "identity"); w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), want) {
		t.Error("a client without gzip got a compressed or different body")
	}
	if w := get(h, "/web/models/abc.onnx", "gzip"); w.Header().Get("Content-Encoding") != "" || w.Body.String() != "model bytes" {
		t.Error("the model must go uncompressed, with its true length for the progress bar")
	}
	if w := get(h, "/web/app.wasm", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 means no gzip")
	}
}
