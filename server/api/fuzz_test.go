package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/internal/testmodel"
	"pneumoscan/screen"
)

// fuzzMarkers are identifying values the fuzz seeds carry, none of which an answer may
// repeat: the DICOM fixtures' patient, institution and accession attributes (see
// imagedecode/testdata/dicom) and the seeds' multipart file name.
var fuzzMarkers = []string{"SECRET", "PATIENT", "HOSPITAL", "ACC1", "19500101", "John-Doe"}

// fileNames finds the file names a multipart body declares (filename= and filename*=).
var fileNames = regexp.MustCompile(`(?i)filename\*?=\s*"?([^";\r\n]{3,})`)

// FuzzScreen posts fuzzed bodies under fuzzed content types to POST /api/v1/screen, served
// with the tiny test model so a valid image screens in milliseconds, with and without the
// heatmap. The handler must never panic, must answer 200 or a 4xx (the only 5xx allowed is
// 503 with Retry-After), always in JSON, and its answer must never repeat a file name of the
// body or an identifying value of a DICOM seed. A repeated value counts only if it is the
// request's: the same request with that value replaced by X's must not answer it too, so the
// fixed text of a message is never mistaken for an echo.
func FuzzScreen(f *testing.F) {
	s, err := screen.New(testmodel.Tiny(f), convnet.Engine)
	if err != nil {
		f.Fatal(err)
	}
	h := New(s)

	var small bytes.Buffer
	gray := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range gray.Pix {
		gray.Pix[i] = byte(i * 7)
	}
	if err := png.Encode(&small, gray); err != nil {
		f.Fatal(err)
	}
	dicom := testmodel.Read(f, "imagedecode/testdata/dicom/jpeg_baseline.dcm")
	xray := testmodel.XRay(f, "normal-IM-0001-0001.jpeg")
	for _, seed := range []struct {
		ctype   string
		heatmap bool
		body    []byte
	}{
		{"image/png", true, small.Bytes()},
		{"application/dicom", false, dicom},
		{"image/jpeg", false, xray},
		{"image/png", false, testmodel.Image(f, "normal-IM-0001-0001.png")},
		{"", false, []byte{}},
		{"text/plain", false, []byte("not an image")},
		{"image/png", false, small.Bytes()[:len(small.Bytes())/2]},
		{"multipart/form-data", false, []byte("--x\r\n\r\n--x--\r\n")},
		{"multipart/form-data; boundary=\"x", false, []byte("--x\r\n")},
		{"multipart/form-data; boundary=x", false,
			[]byte("--x\r\nContent-Disposition: form-data; name=\"image\"\r\nfilename=\"John-Doe-1970.png\"\r\n\r\nab\r\n--x--\r\n")},
	} {
		f.Add(seed.ctype, seed.heatmap, seed.body)
	}
	for _, img := range [][]byte{small.Bytes(), dicom, []byte("SECRET^PATIENT not an image")} {
		body, ctype := multipartImage(f, "John-Doe-1970.png", img)
		f.Add(ctype, true, body.Bytes())
	}

	post := func(ctype string, heatmap bool, body []byte) *httptest.ResponseRecorder {
		target := "/api/v1/screen"
		if heatmap {
			target += "?heatmap=1"
		}
		req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, ctype string, heatmap bool, body []byte) {
		rec := post(ctype, heatmap, body)
		code := rec.Code
		switch {
		case code == http.StatusOK, code >= 400 && code < 500:
		case code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") != "":
		default:
			t.Fatalf("status %d for %q: %s", code, ctype, rec.Body.Bytes())
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Fatalf("status %d answered as %q", code, got)
		}
		if code != http.StatusOK {
			var e map[string]string
			// A refusal is {"error": message} or, for a refused image,
			// {"error": message, "code": refusal code}; nothing else.
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == "" {
				t.Fatalf("status %d answer is not {\"error\": ...}: %s (%v)", code, rec.Body.Bytes(), err)
			}
			_, hasCode := e["code"]
			if len(e) > 2 || (len(e) == 2 && !hasCode) || (hasCode && e["code"] == "") {
				t.Fatalf("status %d answer has fields other than error and a code: %s", code, rec.Body.Bytes())
			}
		} else {
			var r ScreenResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if !(r.Prob >= 0 && r.Prob <= 1) || r.Width < 64 || r.Height < 64 {
				t.Fatalf("screened: prob %v, %dx%d", r.Prob, r.Width, r.Height)
			}
			if heatmap {
				b, err := base64.StdEncoding.DecodeString(r.HeatmapPNG)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(bytes.NewReader(b)); err != nil {
					t.Fatalf("heatmap: %v", err)
				}
			}
		}
		answer := rec.Body.String()
		candidates := append([]string(nil), fuzzMarkers...)
		for _, m := range fileNames.FindAllSubmatch(body, -1) {
			candidates = append(candidates, string(m[1]))
		}
		for _, c := range candidates {
			if !strings.Contains(answer, c) {
				continue
			}
			masked := bytes.ReplaceAll(body, []byte(c), bytes.Repeat([]byte("X"), len(c)))
			if again := post(ctype, heatmap, masked).Body.String(); !strings.Contains(again, c) {
				t.Fatalf("the answer repeats %q from the request: %s", c, answer)
			}
		}
	})
}
