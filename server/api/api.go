// Package api is pneumoscan's JSON API over the native screening path, with the same model
// file the page uses:
//
//	GET  /api/v1/model         the model's metadata and sha256
//	POST /api/v1/screen        body = image bytes, or multipart field "image"; ?heatmap=1 adds a PNG
//	GET  /api/v1/openapi.json  the OpenAPI 3 description of all this (openapi.json, embedded)
//	GET  /healthz              {"status":"ok","model_sha256":...}
//
// Every error is {"error": "..."}. A known path asked with another method answers 405 with
// an Allow header; POST /api/v1/screen answers 503 with Retry-After when MaxInflight
// screenings are already running.
package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/screen"
	"pneumoscan/server/httpserve"
)

// OpenAPI is the API's OpenAPI 3 description, served at GET /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// DefaultMaxInflight is how many screenings may run at once unless Options says otherwise;
// the engine runs one at a time, so more only queue (each holding its upload in memory).
const DefaultMaxInflight = 4

// MaxBody bounds an upload; a 50-megapixel PNG is far smaller than this.
const MaxBody = 64 << 20

// Screener is what the API needs of *screen.Screener; it must be safe for concurrent use.
type Screener interface {
	Metadata() model.Metadata
	SHA256() string
	Screen(data []byte) (screen.Result, error)
}

// api holds no lock of its own: *screen.Screener decodes uploads concurrently and
// serialises only the engine.
type api struct {
	s        Screener
	inflight chan struct{} // one token per screening running
	stall    time.Duration // Options.UploadStall
}

// Options configures the API.
type Options struct {
	// MaxInflight bounds the screenings running at once; 0 means DefaultMaxInflight.
	MaxInflight int
	// UploadStall cuts an upload that sends nothing for this long; 0 means
	// DefaultUploadStall. A slow but steady upload may use the whole server ReadTimeout.
	UploadStall time.Duration
}

// DefaultUploadStall: an upload takes a screening slot before its body is read (so memory
// stays bounded), and a client that stops sending would hold that slot until the server's
// read timeout (2 minutes; make bench-server found it). 15 s of silence is far beyond any
// working network and frees the slot.
const DefaultUploadStall = 15 * time.Second

// Route is one method and path the API serves.
type Route struct{ Method, Path string }

// Routes lists every method and path the handler serves (HEAD too, wherever GET is).
func Routes() []Route {
	var out []Route
	for _, e := range (&api{}).endpoints() {
		for _, m := range e.methods {
			out = append(out, Route{m.method, e.path})
		}
	}
	return out
}

// Paths are the paths the handler serves: mount it at "/api/" and at "/healthz".
var Paths = []string{"/api/", "/healthz"}

type endpoint struct {
	path    string
	methods []method
}

type method struct {
	method string
	h      http.HandlerFunc
}

func (a *api) endpoints() []endpoint {
	return []endpoint{
		{"/api/v1/model", []method{{http.MethodGet, a.model}}},
		{"/api/v1/screen", []method{{http.MethodPost, a.screen}}},
		{"/api/v1/openapi.json", []method{{http.MethodGet, openapi}}},
		{"/healthz", []method{{http.MethodGet, a.health}}},
	}
}

// New returns the API's handler with the default options; mount it at each of Paths.
func New(s Screener) http.Handler { return NewWithOptions(s, Options{}) }

// NewWithOptions returns the API's handler; mount it at each of Paths.
func NewWithOptions(s Screener, o Options) http.Handler {
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.UploadStall <= 0 {
		o.UploadStall = DefaultUploadStall
	}
	a := &api{s: s, inflight: make(chan struct{}, o.MaxInflight), stall: o.UploadStall}
	mux := http.NewServeMux()
	for _, e := range a.endpoints() {
		mux.Handle(e.path, e)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// ServeHTTP dispatches on the method: HEAD is served wherever GET is, and any other method
// answers 405 with the Allow header.
func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range e.methods {
		if r.Method == m.method || (r.Method == http.MethodHead && m.method == http.MethodGet) {
			m.h(w, r)
			return
		}
		allow = append(allow, m.method)
		if m.method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
}

func openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(OpenAPI)
}

// Health is the answer to GET /healthz.
type Health struct {
	Status      string `json:"status"`
	ModelSHA256 string `json:"model_sha256"`
}

func (a *api) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok", ModelSHA256: a.s.SHA256()})
}

// ModelInfo is the model as the API reports it.
type ModelInfo struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	SHA256      string            `json:"sha256"`
	Trained     bool              `json:"trained"`
	Description string            `json:"description,omitempty"`
	Thresholds  []model.Threshold `json:"thresholds,omitempty"`
	Operating   string            `json:"operating_threshold,omitempty"`
	Classes     []string          `json:"classes,omitempty"`
	Population  string            `json:"population,omitempty"` // who the model's figures were measured on
}

// ScreenResponse is the answer to POST /api/v1/screen.
type ScreenResponse struct {
	Prob       float64         `json:"prob"`
	Positive   bool            `json:"positive"`
	Verdict    model.Verdict   `json:"verdict"`
	Threshold  model.Threshold `json:"threshold"`
	Model      ModelInfo       `json:"model"`
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	HeatmapPNG string          `json:"heatmap_png,omitempty"`
	// Gate is the gate's verdict; "available": false (with a note) for a model file without one.
	Gate GateInfo `json:"gate"`
	// Correction says what was done to the film before screening it, e.g. "rotated 90 degrees
	// counter-clockwise before screening"; absent when it was screened as supplied.
	Correction string `json:"correction,omitempty"`
	// Population places the film against the training films; absent without a gate.
	Population *PopulationInfo `json:"population,omitempty"`
}

// GateInfo is screen.Gate in the API.
type GateInfo struct {
	Available bool    `json:"available"`
	Note      string  `json:"note,omitempty"`
	Frontal   float64 `json:"p_frontal_chest_xray,omitempty"`
	Distance  float64 `json:"distance,omitempty"`
}

// PopulationInfo is screen.Population in the API: beyond the threshold, "inside" is false and
// the warning says the score may not hold.
type PopulationInfo struct {
	Inside     bool    `json:"inside"`
	Distance   float64 `json:"distance"`
	Percentile float64 `json:"percentile"`
	Threshold  float64 `json:"threshold"`
	Warning    string  `json:"warning,omitempty"`
}

func (a *api) info(full bool) ModelInfo {
	m := a.s.Metadata()
	i := ModelInfo{Name: m.Name, Version: m.Version, SHA256: a.s.SHA256(), Trained: m.Trained}
	if full {
		i.Description, i.Thresholds, i.Operating, i.Classes, i.Population = m.Description, m.Thresholds, m.Operating, m.Classes, m.Population
	}
	return i
}

func (a *api) model(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.info(true))
}

func (a *api) screen(w http.ResponseWriter, r *http.Request) {
	// The limit comes before reading the body: a waiting upload holds up to MaxBody.
	select {
	case a.inflight <- struct{}{}:
		defer func() { <-a.inflight }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the server is already screening %d images; try again in a second", cap(a.inflight)))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	guard := newStallGuard(r.Body, http.NewResponseController(w), a.stall)
	r.Body = guard
	data, status, err := readImage(r)
	guard.stop()
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	sum := sha256.Sum256(data)
	httpserve.NoteUpload(r, hex.EncodeToString(sum[:]))
	res, err := a.s.Screen(data)
	if err != nil {
		// A refused image: {"error": message, "code": screen.RefusalCode}; the decoder's
		// kinds keep their own statuses (400 empty, 415 unknown format), the film checks
		// (blank, no contrast, ...) and the gate (not a frontal chest X-ray, orientation
		// unsure) answer 422.
		if code := screen.RefusalCode(err); code != "" {
			status := http.StatusUnprocessableEntity
			var de *imagedecode.Error
			if errors.As(err, &de) {
				status = decodeStatus(de.Kind)
			}
			writeJSON(w, status, map[string]string{"error": err.Error(), "code": code})
			return
		}
		writeError(w, http.StatusInternalServerError, "screening failed: "+err.Error())
		return
	}
	out := ScreenResponse{Prob: res.Prob, Positive: res.Positive, Verdict: res.Verdict, Threshold: res.Threshold, Model: a.info(false),
		Width: res.Width, Height: res.Height, Correction: res.Correction,
		Gate: GateInfo{Available: res.Gate.Available, Note: res.Gate.Note, Frontal: res.Gate.Frontal, Distance: res.Gate.Distance}}
	if p := res.Population; p != nil {
		out.Population = &PopulationInfo{Inside: p.Inside, Distance: p.Distance, Percentile: p.Percentile, Threshold: p.Threshold, Warning: p.Warning}
	}
	if v := r.URL.Query().Get("heatmap"); v == "1" || v == "true" {
		var b bytes.Buffer
		if err := png.Encode(&b, res.HeatmapRGBA()); err != nil {
			writeError(w, http.StatusInternalServerError, "encoding the heatmap failed: "+err.Error())
			return
		}
		out.HeatmapPNG = base64.StdEncoding.EncodeToString(b.Bytes())
	}
	writeJSON(w, http.StatusOK, out)
}

// readImage takes the raw body, or the "image" field of a multipart form.
//
// Its errors never include the underlying error's text: mime/multipart and net/textproto
// quote the lines they reject, and a multipart part's header line carries the upload's file
// name, which may name the patient.
func readImage(r *http.Request) ([]byte, int, error) {
	var src io.Reader = r.Body
	broken := "the body ended before it was complete"
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if errors.Is(err, http.ErrMissingBoundary) {
			return nil, http.StatusBadRequest, errors.New("bad multipart body: the Content-Type has no boundary")
		}
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("bad multipart body: its Content-Type is malformed")
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil, http.StatusBadRequest, errors.New(`the multipart body has no "image" field`)
			}
			if err != nil {
				return nil, bodyStatus(err), bodyError(err, "the multipart body's boundaries or part headers are malformed")
			}
			if part.FormName() == "image" {
				src = part
				break
			}
		}
		broken = `the multipart body ended inside the "image" field or is malformed`
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, bodyStatus(err), bodyError(err, broken)
	}
	return data, 0, nil
}

func bodyStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// bodyError is the message for a failed read: the size limit, or what (a fixed description
// of what went wrong; never err's text, see readImage).
func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("the upload is larger than the %d MB limit", MaxBody>>20)
	}
	return fmt.Errorf("reading the upload failed: %s", what)
}

// decodeStatus maps why an image was refused to an HTTP status.
func decodeStatus(k imagedecode.Kind) int {
	switch k {
	case imagedecode.Empty:
		return http.StatusBadRequest
	case imagedecode.UnknownFormat:
		return http.StatusUnsupportedMediaType
	default: // corrupt, too small, too many pixels, not an X-ray: well-formed request, unusable content
		return http.StatusUnprocessableEntity
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// stallGuard cuts a body read that waits longer than d for its next bytes: a watchdog sets
// the connection's read deadline to now, which makes the pending Read fail. It only ever
// shortens the deadline, so the server's ReadTimeout still bounds the whole upload.
type stallGuard struct {
	io.ReadCloser
	t *time.Timer
	d time.Duration
}

func newStallGuard(r io.ReadCloser, rc *http.ResponseController, d time.Duration) *stallGuard {
	return &stallGuard{ReadCloser: r, d: d, t: time.AfterFunc(d, func() { _ = rc.SetReadDeadline(time.Now()) })}
}

func (g *stallGuard) Read(p []byte) (int, error) {
	g.t.Reset(g.d)
	return g.ReadCloser.Read(p)
}

// stop ends the watch once the body is read.
func (g *stallGuard) stop() { g.t.Stop() }
