package screen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"
	"time"

	"pneumoscan/convnet"
	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"
	"pneumoscan/inference"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/quant"
)

// testdata comes from tools/tiny_model.py: a tiny contract model, the two X-ray fixtures as
// PIL decoded them (PNG, lossless) and PyTorch's probabilities and Grad-CAM maps.
type reference = testmodel.Reference

func load(t *testing.T) ([]byte, map[string]reference) {
	t.Helper()
	return testmodel.Tiny(t), testmodel.References(t)
}

// mustScreen screens data, failing the test on an error.
func mustScreen(t *testing.T, s *Screener, data []byte) Result {
	t.Helper()
	r, err := s.Screen(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// camDiff is the largest difference between a heatmap and the reference's sampled one.
func camDiff(t *testing.T, r Result, ref reference) float64 {
	t.Helper()
	if r.HeatmapSize != ref.HeatmapSize || len(r.Heatmap) != r.HeatmapSize*r.HeatmapSize {
		t.Fatalf("heatmap %d values at size %d, want size %d", len(r.Heatmap), r.HeatmapSize, ref.HeatmapSize)
	}
	n := (ref.HeatmapSize + ref.Stride - 1) / ref.Stride
	if len(ref.Heatmap) != n*n {
		t.Fatalf("reference heatmap has %d samples, want %d", len(ref.Heatmap), n*n)
	}
	var worst float64
	for i, want := range ref.Heatmap {
		y, x := (i/n)*ref.Stride, (i%n)*ref.Stride
		worst = math.Max(worst, math.Abs(float64(r.Heatmap[y*r.HeatmapSize+x]-want)))
	}
	return worst
}

func TestScreenMatchesPyTorch(t *testing.T) {
	b, ref := load(t)
	s, err := New(b, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if s.SHA256() != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %s", s.SHA256())
	}
	if m := s.Metadata(); m.Name != "tiny-test" || m.Temperature != 1.5 || m.Trained {
		t.Errorf("metadata %+v", m)
	}
	for png, want := range ref {
		r := mustScreen(t, s, testmodel.Image(t, png))
		dp, draw, dcam := math.Abs(r.Prob-want.Prob), math.Abs(r.RawProb-want.ModelProb), camDiff(t, r, want)
		t.Logf("%s: P %.6f (PyTorch %.6f, |dP| %.2g; raw |dP| %.2g), CAM max diff %.2g", png, r.Prob, want.Prob, dp, draw, dcam)
		if dp > 1e-5 || draw > 1e-5 {
			t.Errorf("%s: |dP| = %.2g, raw %.2g > 1e-5", png, dp, draw)
		}
		if dcam > 1e-3 {
			t.Errorf("%s: CAM max diff %.2g > 1e-3", png, dcam)
		}
		if r.Positive != (r.Prob >= r.Threshold.Value) || r.Threshold.Name != "balanced" || (r.Verdict == model.Positive) != r.Positive {
			t.Errorf("%s: positive %v at %+v", png, r.Positive, r.Threshold)
		}
		if r.Width != 224 || r.Height != 224 {
			t.Errorf("%s: size %dx%d", png, r.Width, r.Height)
		}

		// The original JPEG: Go's decoder differs from libjpeg by +-1 on ~1.5% of pixels, so
		// only closeness is expected here.
		rj := mustScreen(t, s, testmodel.XRay(t, want.JPEG))
		dj := math.Abs(rj.Prob - want.Prob)
		t.Logf("%s (JPEG, Go decoder): |dP| %.2g, CAM max diff %.2g", want.JPEG, dj, camDiff(t, rj, want))
		if dj > 1e-3 {
			t.Errorf("%s: JPEG |dP| = %.2g > 1e-3", want.JPEG, dj)
		}
	}
}

// quantized rewrites every Conv and MatMul weight of a model as int8 + DequantizeLinear,
// per output channel (Conv [O,I,kh,kw]: axis 0; MatMul [K,N]: axis 1), as modelconv does.
func quantized(t *testing.T, b []byte) []byte {
	t.Helper()
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(b, mp); err != nil {
		t.Fatal(err)
	}
	g := mp.Graph
	axis := map[string]int64{}
	for _, n := range g.Node {
		switch n.OpType {
		case "Conv":
			axis[n.Input[1]] = 0
		case "MatMul":
			axis[n.Input[1]] = 1
		}
	}
	var dq []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto
	for _, init := range g.Initializer {
		ax, ok := axis[init.Name]
		if !ok {
			inits = append(inits, init)
			continue
		}
		v, err := modelfile.Floats(init)
		if err != nil {
			t.Fatal(err)
		}
		shape := make([]int, len(init.Dims))
		for i, d := range init.Dims {
			shape[i] = int(d)
		}
		q, scale := quant.PerChannel(v, shape, int(ax))
		raw := make([]byte, len(q))
		for i, x := range q {
			raw[i] = byte(x)
		}
		qName, sName := init.Name+"_quantized", init.Name+"_scale"
		inits = append(inits,
			&onnxpb.TensorProto{Name: qName, Dims: init.Dims, DataType: int32(onnxpb.TensorProto_INT8), RawData: raw},
			modelfile.FloatTensor(sName, []int{len(scale)}, scale))
		dq = append(dq, &onnxpb.NodeProto{OpType: "DequantizeLinear", Input: []string{qName, sName}, Output: []string{init.Name},
			Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: ax}}})
	}
	if len(dq) < 7 { // 5 Conv + 2 MatMul weights in the tiny model
		t.Fatalf("quantized only %d weights", len(dq))
	}
	g.Initializer = inits
	g.Node = append(dq, g.Node...)
	out, err := onnxpb.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScreenInt8(t *testing.T) {
	b, ref := load(t)
	s, err := New(quantized(t, b), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	for png, want := range ref {
		r := mustScreen(t, s, testmodel.Image(t, png))
		dp, dcam := math.Abs(r.Prob-want.Prob), camDiff(t, r, want)
		t.Logf("%s int8: P %.6f vs float PyTorch %.6f (|dP| %.2g), CAM max diff %.2g", png, r.Prob, want.Prob, dp, dcam)
		if dp > 5e-3 {
			t.Errorf("%s: int8 |dP| = %.2g > 5e-3", png, dp)
		}
		if dcam > 0.1 {
			t.Errorf("%s: int8 CAM max diff %.2g > 0.1", png, dcam)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	b, _ := load(t)
	if _, err := New([]byte("\xff\xff garbage"), convnet.Engine); err == nil || !strings.Contains(err.Error(), "not ONNX") {
		t.Errorf("garbage: %v", err)
	}
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(b, mp); err != nil {
		t.Fatal(err)
	}
	mp.MetadataProps = nil
	plain, _ := onnxpb.Marshal(mp)
	if _, err := New(plain, convnet.Engine); err == nil || !strings.Contains(err.Error(), "not a pneumoscan model") {
		t.Errorf("no metadata: %v", err)
	}
	if err := onnxpb.Unmarshal(b, mp); err != nil {
		t.Fatal(err)
	}
	for _, init := range mp.Graph.Initializer {
		if init.Name == model.HeadHiddenWeight {
			init.Name = "something.else"
		}
	}
	noHead, _ := onnxpb.Marshal(mp)
	if _, err := New(noHead, convnet.Engine); err == nil {
		t.Error("model without head weights: no error")
	}
}

func TestScreenBadImage(t *testing.T) {
	b, _ := load(t)
	s, err := New(b, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Screen([]byte("GIF89a not really"))
	var de *imagedecode.Error
	if !errors.As(err, &de) || de.UserMessage() == "" {
		t.Fatalf("err = %v (%T), want *imagedecode.Error", err, err)
	}
}

// TestScreenNoFilm: an image with no film to read (filmcheck) is refused before the model
// runs, through Screen and ScreenImage alike: no score, no heatmap.
func TestScreenNoFilm(t *testing.T) {
	b, _ := load(t)
	s, err := New(b, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	black := image.NewGray(image.Rect(0, 0, 512, 512))
	var buf bytes.Buffer
	if err := png.Encode(&buf, black); err != nil {
		t.Fatal(err)
	}
	var stages []Stage
	r, err := s.ScreenStages(buf.Bytes(), func(st Stage) { stages = append(stages, st) })
	var fe *filmcheck.Error
	if !errors.As(err, &fe) || fe.Kind != filmcheck.Blank || fe.UserMessage() == "" {
		t.Fatalf("black PNG: err = %v (%T), want a filmcheck blank refusal", err, err)
	}
	if r.Heatmap != nil || r.Prob != 0 || len(stages) != 1 || stages[0] != Decoding {
		t.Errorf("refused image: result %+v, stages %v; want no result and no stage past decoding", r, stages)
	}
	if _, err := s.ScreenImage(image.NewGray(image.Rect(0, 0, 2000, 300))); !errors.As(err, &fe) || fe.Kind != filmcheck.ExtremeAspect {
		t.Errorf("ScreenImage of a 2000x300 strip: %v, want a filmcheck extreme_aspect refusal", err)
	}
}

// TestDefaultModel screens the fixtures with the full int8 ResNet50 demo model written by
// modelconv, when it is there, and reports the time per image.
func TestDefaultModel(t *testing.T) {
	b := testmodel.Shipped(t)
	start := time.Now()
	s, err := New(b, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %v", time.Since(start))
	for _, name := range []string{"normal-IM-0001-0001.jpeg", "pneumonia-person100_bacteria_475.jpeg"} {
		data := testmodel.XRay(t, name)
		start := time.Now()
		r := mustScreen(t, s, data)
		if r.Prob < 0 || r.Prob > 1 || math.IsNaN(r.Prob) || len(r.Heatmap) != r.HeatmapSize*r.HeatmapSize {
			t.Fatalf("%s: result %v, heatmap %d", name, r.Prob, len(r.Heatmap))
		}
		t.Logf("%s: P %.4f positive %v, %v per image", name, r.Prob, r.Positive, time.Since(start))
	}
}

// The default engine (convnet) and onnx-go must give the same screening result.
func TestEnginesAgree(t *testing.T) {
	b, ref := load(t)
	fast, err := New(b, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := New(b, inference.Engine)
	if err != nil {
		t.Fatal(err)
	}
	if fast.EngineName() != "convnet" || slow.EngineName() != "onnx-go" {
		t.Fatalf("engines %q and %q", fast.EngineName(), slow.EngineName())
	}
	for png := range ref {
		data := testmodel.Image(t, png)
		rf, rs := mustScreen(t, fast, data), mustScreen(t, slow, data)
		var dcam float64
		for i := range rf.Heatmap {
			dcam = math.Max(dcam, math.Abs(float64(rf.Heatmap[i]-rs.Heatmap[i])))
		}
		t.Logf("%s: P convnet %.7f, onnx-go %.7f; heatmap max diff %.2g", png, rf.Prob, rs.Prob, dcam)
		if d := math.Abs(rf.Prob - rs.Prob); d > 1e-5 || rf.Positive != rs.Positive {
			t.Errorf("%s: convnet P %v (positive %v), onnx-go %v (%v)", png, rf.Prob, rf.Positive, rs.Prob, rs.Positive)
		}
		if dcam > 1e-4 {
			t.Errorf("%s: heatmaps differ by %.2g", png, dcam)
		}
	}
	if _, err := New(b, nil); err == nil || !strings.Contains(err.Error(), "no engine") {
		t.Errorf("no engine: %v", err)
	}
}
