package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/screen"
)

var (
	once     sync.Once
	screener *screen.Screener
	loadErr  error
)

// server serves the API with the committed demo model, loaded once for all tests.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	once.Do(func() {
		data, err := os.ReadFile("../../models/default.onnx")
		if err != nil {
			loadErr = err
			return
		}
		screener, loadErr = screen.New(data, convnet.Engine)
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	srv := httptest.NewServer(New(screener))
	t.Cleanup(srv.Close)
	return srv
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/xray/normal-IM-0001-0001.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	defer res.Body.Close()
	var v T
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestModel(t *testing.T) {
	srv := server(t)
	res, err := http.Get(srv.URL + "/api/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	m := decode[ModelInfo](t, res)
	meta := screener.Metadata()
	if res.StatusCode != 200 || m.SHA256 != screener.SHA256() || m.Name != meta.Name || m.Trained != meta.Trained || m.Operating != meta.Operating {
		t.Errorf("%d %+v", res.StatusCode, m)
	}
}

func TestScreenMatchesNative(t *testing.T) {
	srv := server(t)
	img := fixture(t)
	want, err := screener.Screen(img)
	if err != nil {
		t.Fatal(err)
	}
	// Raw body, with the heatmap.
	res, err := http.Post(srv.URL+"/api/v1/screen?heatmap=1", "image/jpeg", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	got := decode[ScreenResponse](t, res)
	if res.StatusCode != 200 || got.Prob != want.Prob || got.Positive != want.Positive || got.Verdict != want.Verdict || got.Verdict == "" || !reflect.DeepEqual(got.Threshold, want.Threshold) ||
		got.Model.SHA256 != screener.SHA256() {
		t.Errorf("%d %+v, want prob %v", res.StatusCode, got, want.Prob)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(got.HeatmapPNG)
	if err != nil {
		t.Fatal(err)
	}
	heat, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil || heat.Bounds().Dx() != want.HeatmapSize {
		t.Errorf("heatmap: %v, %v", err, heat)
	}

	// Multipart field "image", without the heatmap.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("note", "ignored")
	fw, _ := mw.CreateFormFile("image", "x.jpeg")
	fw.Write(img)
	mw.Close()
	res, err = http.Post(srv.URL+"/api/v1/screen", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	got = decode[ScreenResponse](t, res)
	if res.StatusCode != 200 || got.Prob != want.Prob || got.HeatmapPNG != "" {
		t.Errorf("multipart: %d prob %v heatmap %d bytes", res.StatusCode, got.Prob, len(got.HeatmapPNG))
	}
}

func TestBadInput(t *testing.T) {
	srv := server(t)
	var tiny, black, strip, twoLevel bytes.Buffer
	png.Encode(&tiny, image.NewGray(image.Rect(0, 0, 10, 10)))
	png.Encode(&black, image.NewGray(image.Rect(0, 0, 512, 512)))
	png.Encode(&strip, image.NewGray(image.Rect(0, 0, 2000, 300)))
	halves := image.NewGray(image.Rect(0, 0, 256, 256))
	for i := range halves.Pix {
		halves.Pix[i] = uint8(255 * (i % 256 / 128))
	}
	png.Encode(&twoLevel, halves)
	img := fixture(t)
	var noField bytes.Buffer
	mw := multipart.NewWriter(&noField)
	mw.WriteField("other", "x")
	mw.Close()
	for _, c := range []struct {
		name, ctype string
		body        []byte
		status      int
		msg, code   string // code: the refusal code the answer carries ("" for none)
	}{
		{"text", "text/plain", []byte("not an image"), 415, "accepted formats are DICOM, JPEG, PNG", "unknown_format"},
		{"empty", "image/jpeg", nil, 400, "empty", "empty"},
		{"truncated", "image/jpeg", img[:len(img)/3], 422, "damaged or incomplete", "corrupt"},
		{"tiny", "image/png", tiny.Bytes(), 422, "too small (10x10", "too_small"},
		{"black", "image/png", black.Bytes(), 422, "almost uniform", "blank"},
		{"strip", "image/png", strip.Bytes(), 422, "6.7 times wider than high", "extreme_aspect"},
		{"two levels", "image/png", twoLevel.Bytes(), 422, "only 2 shades of gray", "few_gray_levels"},
		{"too big", "application/octet-stream", make([]byte, MaxBody+1), 413, "larger than the 64 MB limit", ""},
		{"no image field", mw.FormDataContentType(), noField.Bytes(), 400, `no "image" field`, ""},
	} {
		res, err := http.Post(srv.URL+"/api/v1/screen", c.ctype, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got := decode[map[string]string](t, res)
		if res.StatusCode != c.status || !strings.Contains(got["error"], c.msg) || got["code"] != c.code {
			t.Errorf("%s: %d %q code %q; want %d, a message containing %q and code %q", c.name, res.StatusCode, got["error"], got["code"], c.status, c.msg, c.code)
		}
	}
	res, err := http.Get(srv.URL + "/api/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d", res.StatusCode)
	}
	res.Body.Close()
}
