package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pneumoscan/model"
	"pneumoscan/screen"
	"pneumoscan/server/httpserve"
)

// mountAll serves h at each of Paths, as server/main.go does, behind a not-found fallback.
func mountAll(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for _, p := range Paths {
		mux.Handle(p, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "static file", http.StatusTeapot) })
	return mux
}

func TestMethodNotAllowed(t *testing.T) {
	srv := httptest.NewServer(mountAll(New(blockingScreener{})))
	defer srv.Close()
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/api/v1/screen", "POST"},
		{"PUT", "/api/v1/screen", "POST"},
		{"POST", "/api/v1/model", "GET, HEAD"},
		{"DELETE", "/api/v1/openapi.json", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := decode[map[string]string](t, res)
		if res.StatusCode != 405 || res.Header.Get("Allow") != c.allow || got["error"] == "" ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d Allow %q error %q; want 405 Allow %q and a JSON error", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), got["error"], c.allow)
		}
	}
	// HEAD is served wherever GET is; unknown API paths stay 404.
	res, err := http.Head(srv.URL + "/api/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("HEAD /api/v1/model: %d", res.StatusCode)
	}
	res, err = http.Post(srv.URL+"/api/v1/nothing", "image/png", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("POST /api/v1/nothing: %d, want 404", res.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	srv := server(t)
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || raw["status"] != "ok" || raw["model_sha256"] != screener.SHA256() || len(raw) != 2 {
		t.Errorf("%d %v; want 200 {status: ok, model_sha256: %s}", res.StatusCode, raw, screener.SHA256())
	}
}

// TestOpenAPI: the embedded document is valid JSON, is OpenAPI 3, names exactly the routes
// the handler serves with their methods, documents the error shape and status codes, and is
// what GET /api/v1/openapi.json serves.
func TestOpenAPI(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	served := map[string][]string{}
	for _, r := range Routes() {
		if r.Method != http.MethodHead { // implied by GET in OpenAPI
			served[r.Path] = append(served[r.Path], strings.ToLower(r.Method))
		}
	}
	for path, methods := range served {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("openapi.json lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !slices.Contains(served[path], m) {
				t.Errorf("openapi.json describes %s %s, which the API does not serve", strings.ToUpper(m), path)
			}
		}
	}
	if _, ok := doc.Comps.Schemas["Error"].Properties["error"]; !ok {
		t.Error(`openapi.json has no Error schema with an "error" property`)
	}
	if _, ok := doc.Comps.Schemas["ScreenResponse"].Properties["heatmap_png"]; !ok {
		t.Error("openapi.json's ScreenResponse lacks heatmap_png")
	}
	var screenOp struct {
		Parameters []struct{ Name string } `json:"parameters"`
		Body       struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"requestBody"`
		Responses map[string]json.RawMessage `json:"responses"`
	}
	if err := json.Unmarshal(doc.Paths["/api/v1/screen"]["post"], &screenOp); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"200", "400", "405", "413", "415", "422", "500", "503"} {
		if _, ok := screenOp.Responses[code]; !ok {
			t.Errorf("POST /api/v1/screen: openapi.json lacks status %s", code)
		}
	}
	if len(screenOp.Parameters) != 1 || screenOp.Parameters[0].Name != "heatmap" || screenOp.Body.Content["multipart/form-data"] == nil {
		t.Errorf("POST /api/v1/screen: parameters %+v, body types %d", screenOp.Parameters, len(screenOp.Body.Content))
	}

	srv := httptest.NewServer(mountAll(New(blockingScreener{})))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(b.Bytes(), OpenAPI) {
		t.Errorf("GET /api/v1/openapi.json: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), b.Len())
	}
	// Every documented route is routed to the API (not the static fallback, not 404/405).
	for path, ops := range doc.Paths {
		for m := range ops {
			req, _ := http.NewRequest(strings.ToUpper(m), srv.URL+path, strings.NewReader("x"))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode == 404 || res.StatusCode == 405 || res.StatusCode == http.StatusTeapot {
				t.Errorf("%s %s: %d", strings.ToUpper(m), path, res.StatusCode)
			}
		}
	}
}

// blockingScreener waits on release (when set) inside Screen, to hold screenings in flight.
type blockingScreener struct {
	entered chan struct{}
	release chan struct{}
}

func (blockingScreener) Metadata() model.Metadata { return model.Metadata{Name: "fake", Version: "0"} }
func (blockingScreener) SHA256() string           { return strings.Repeat("ab", 32) }
func (b blockingScreener) Screen(data []byte) (screen.Result, error) {
	if b.entered != nil {
		b.entered <- struct{}{}
		<-b.release
	}
	return screen.Result{Prob: 0.25, Width: 300, Height: 300}, nil
}

func TestInflightLimit(t *testing.T) {
	fake := blockingScreener{entered: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(NewWithOptions(fake, Options{MaxInflight: 2}))
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(srv.URL+"/api/v1/screen", "image/png", strings.NewReader("img"))
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	for range 2 {
		select {
		case <-fake.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the first two screenings did not start")
		}
	}
	res, err := http.Post(srv.URL+"/api/v1/screen", "image/png", strings.NewReader("img"))
	if err != nil {
		t.Fatal(err)
	}
	got := decode[map[string]string](t, res)
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" || !strings.Contains(got["error"], "try again") {
		t.Errorf("third screening: %d Retry-After %q %q; want 503, 1 and a JSON error", res.StatusCode, res.Header.Get("Retry-After"), got["error"])
	}
	// Other endpoints are not limited.
	if res, err := http.Get(srv.URL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Errorf("healthz while full: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	close(fake.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a screening within the limit answered %d", c)
		}
	}
	// Slots are given back: the next one runs.
	fake2 := blockingScreener{}
	srv2 := httptest.NewServer(NewWithOptions(fake2, Options{MaxInflight: 1}))
	defer srv2.Close()
	for i := range 3 {
		res, err := http.Post(srv2.URL+"/api/v1/screen", "image/png", strings.NewReader("img"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("sequential screening %d: %d", i, res.StatusCode)
		}
	}
}

// TestAccessLogHashesUpload: the access line of a screening has the upload's hash prefix and
// nothing of the query, the multipart file name or the image.
func TestAccessLogHashesUpload(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	l := log.New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logged.Write(p) }), "", 0)
	srv := httptest.NewServer(httpserve.AccessLog(New(blockingScreener{}), l))
	defer srv.Close()
	img := []byte("\x89PNG pretend image bytes SECRETPIXELS")
	body, ctype := multipartImage(t, "John-Doe-1970.png", img)
	res, err := http.Post(srv.URL+"/api/v1/screen?heatmap=0&patient=JaneRoe", ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sum := sha256.Sum256(img)
	mu.Lock()
	line := logged.String()
	mu.Unlock()
	want := `access: POST "/api/v1/screen" 200 `
	if !strings.HasPrefix(line, want) || !strings.HasSuffix(line, " upload="+hex.EncodeToString(sum[:])[:12]+"\n") || strings.Count(line, "\n") != 1 {
		t.Errorf("access line %q; want %q... upload=%s", line, want, hex.EncodeToString(sum[:])[:12])
	}
	for _, leak := range []string{"John", "Doe", "patient", "JaneRoe", "heatmap", "SECRET", "PNG"} {
		if strings.Contains(line, leak) {
			t.Errorf("access line %q contains %q", line, leak)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func multipartImage(t testing.TB, filename string, img []byte) (*bytes.Buffer, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(img)
	mw.Close()
	return &body, mw.FormDataContentType()
}
