package httpserve

import (
	"context"
	"io"
	"log"
	"net/http"
	"time"
)

type noteKey struct{}

// note is what a handler adds to its request's access-log line.
type note struct {
	upload string
}

// NoteUpload records, for the access log, the first 12 hex digits of the SHA-256 of the
// bytes a request uploaded (never a file name, never the bytes). It does nothing outside
// AccessLog.
func NoteUpload(r *http.Request, sha256Hex string) {
	if n, ok := r.Context().Value(noteKey{}).(*note); ok {
		if len(sha256Hex) > 12 {
			sha256Hex = sha256Hex[:12]
		}
		n.upload = sha256Hex
	}
}

// AccessLog logs one line per request to l once h has answered:
//
//	access: POST /api/v1/screen 200 412ms 351B upload=3f5a9c0e12ab
//
// method, path (without the query string), status, duration, response bytes and, where a
// handler called NoteUpload, the upload's hash prefix. Nothing else of the request is
// logged: no query, no headers, no client address, no file names.
func AccessLog(h http.Handler, l *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := &note{}
		rw := &recorder{ResponseWriter: w}
		h.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		extra := ""
		if n.upload != "" {
			extra = " upload=" + n.upload
		}
		// %q: a path is client input; quoting keeps a line one line.
		l.Printf("access: %s %q %d %s %dB%s", r.Method, r.URL.Path, status,
			time.Since(start).Round(time.Millisecond), rw.bytes, extra)
	})
}

// recorder notes the status and counts the body bytes.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are informational; the final status comes later
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path for static files.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
