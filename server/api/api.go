// Package api is pneumoscan's JSON API over the native screening path, with the same model
// file the page uses:
//
//	GET  /api/v1/model   the model's metadata and sha256
//	POST /api/v1/screen  body = image bytes, or multipart field "image"; ?heatmap=1 adds a PNG
package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime"
	"net/http"

	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/screen"
)

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
	s Screener
}

// New returns the API's handler; mount it at "/api/".
func New(s Screener) http.Handler {
	a := &api{s: s}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/model", a.model)
	mux.HandleFunc("POST /api/v1/screen", a.screen)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
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
}

// ScreenResponse is the answer to POST /api/v1/screen.
type ScreenResponse struct {
	Prob       float64         `json:"prob"`
	Positive   bool            `json:"positive"`
	Threshold  model.Threshold `json:"threshold"`
	Model      ModelInfo       `json:"model"`
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	HeatmapPNG string          `json:"heatmap_png,omitempty"`
}

func (a *api) info(full bool) ModelInfo {
	m := a.s.Metadata()
	i := ModelInfo{Name: m.Name, Version: m.Version, SHA256: a.s.SHA256(), Trained: m.Trained}
	if full {
		i.Description, i.Thresholds, i.Operating, i.Classes = m.Description, m.Thresholds, m.Operating, m.Classes
	}
	return i
}

func (a *api) model(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.info(true))
}

func (a *api) screen(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	data, status, err := readImage(r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	res, err := a.s.Screen(data)
	if err != nil {
		var de *imagedecode.Error
		if errors.As(err, &de) {
			writeError(w, decodeStatus(de.Kind), de.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "screening failed: "+err.Error())
		return
	}
	out := ScreenResponse{Prob: res.Prob, Positive: res.Positive, Threshold: res.Threshold, Model: a.info(false),
		Width: res.Width, Height: res.Height}
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
func readImage(r *http.Request) ([]byte, int, error) {
	var src io.Reader = r.Body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("bad multipart body: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil, http.StatusBadRequest, errors.New(`the multipart body has no "image" field`)
			}
			if err != nil {
				return nil, bodyStatus(err), bodyError(err)
			}
			if part.FormName() == "image" {
				src = part
				break
			}
		}
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, bodyStatus(err), bodyError(err)
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

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("the upload is larger than the %d MB limit", MaxBody>>20)
	}
	return fmt.Errorf("reading the upload failed: %v", err)
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
