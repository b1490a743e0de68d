// Package files serves the generated static site: the right MIME types for wasm and the web
// manifest, gzip for text and wasm when the client accepts it, and caching headers that let
// the model stay cached forever (its name is its sha256) while everything else revalidates.
package files

import (
	"bytes"
	"compress/gzip"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func init() {
	// The host's MIME table may lack these; browsers need them right (streaming wasm
	// compilation refuses anything but application/wasm).
	mime.AddExtensionType(".wasm", "application/wasm")
	mime.AddExtensionType(".webmanifest", "application/manifest+json")
	mime.AddExtensionType(".js", "text/javascript; charset=utf-8")
	mime.AddExtensionType(".onnx", "application/octet-stream")
}

// compressible lists the extensions worth gzipping; the model's random-looking int8 weights
// and PNGs barely shrink, and gzipping them would hide their length from progress bars.
var compressible = map[string]bool{
	".html": true, ".js": true, ".css": true, ".json": true, ".wasm": true, ".webmanifest": true, ".svg": true,
}

// Handler serves the directory root.
type Handler struct {
	root string
	mu   sync.Mutex
	gz   map[string]gzEntry // compressed bodies, by file path
}

type gzEntry struct {
	mod  time.Time
	size int64
	body []byte
}

func New(root string) *Handler {
	return &Handler{root: root, gz: map[string]gzEntry{}}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path) // Clean of a rooted path cannot climb above the root
	if strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	name := filepath.Join(h.root, filepath.FromSlash(p))
	st, err := os.Stat(name)
	if err == nil && st.IsDir() {
		name = filepath.Join(name, "index.html")
		st, err = os.Stat(name)
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ext := filepath.Ext(name)
	ctype := mime.TypeByExtension(ext)
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(p, "/web/models/") {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// go-app's service worker versions the app itself; HTTP caches must revalidate.
		hd.Set("Cache-Control", "no-cache")
	}
	if compressible[ext] {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, err := h.gzipped(name, st)
			if err != nil {
				http.Error(w, "reading file failed", http.StatusInternalServerError)
				return
			}
			hd.Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, name, st.ModTime(), bytes.NewReader(body))
			return
		}
	}
	f, err := os.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, name, st.ModTime(), f)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gzipped compresses a file once per version of it (wasm takes about a second).
func (h *Handler) gzipped(name string, st os.FileInfo) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.gz[name]; ok && e.mod.Equal(st.ModTime()) && e.size == st.Size() {
		return e.body, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	h.gz[name] = gzEntry{mod: st.ModTime(), size: st.Size(), body: b.Bytes()}
	return b.Bytes(), nil
}
