package main

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"pneumoscan/internal/chestxray"
	"strings"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/screen"
	"pneumoscan/training/checkpoint"
	"pneumoscan/training/finetune"
	"pneumoscan/training/operating"
)

// dataRoot is the real data set (chestxray.Find) when it is there (it is in CI)
// and PNEUMOSCAN_SMOKE_SYNTHETIC is unset; otherwise a small generated one in the
// shape of it.
func dataRoot(t *testing.T) string {
	if os.Getenv("PNEUMOSCAN_SMOKE_SYNTHETIC") != "" {
		t.Log("PNEUMOSCAN_SMOKE_SYNTHETIC set: generating images")
		return synthData(t)
	}
	real, err := chestxray.Find()
	if err != nil {
		t.Logf("%v: generating images", err)
		return synthData(t)
	}
	return real
}

// synthData writes gray 224x224 JPEGs: PNEUMONIA images carry bright patches,
// so the classes are learnable.
func synthData(t *testing.T) string {
	root := t.TempDir()
	r := rand.New(rand.NewPCG(5, 5))
	for _, split := range []string{"train", "test"} {
		for label, class := range []string{"NORMAL", "PNEUMONIA"} {
			dir := filepath.Join(root, split, class)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			n := map[string]int{"train": 80, "test": 10}[split]
			for i := range n {
				img := image.NewGray(image.Rect(0, 0, 224, 224))
				cx, cy := 60+r.Float64()*100, 60+r.Float64()*100
				for y := range 224 {
					for x := range 224 {
						v := 90 + 40*math.Sin(float64(x)/30) + r.NormFloat64()*12
						if label == 1 && math.Hypot(float64(x)-cx, float64(y)-cy) < 35 {
							v += 80
						}
						img.SetGray(x, y, color.Gray{uint8(max(0, min(255, v)))})
					}
				}
				var b bytes.Buffer
				if err := jpeg.Encode(&b, img, nil); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s-IM-%04d-0001.jpeg", split, i)
				if label == 1 {
					name = fmt.Sprintf("%sperson%d_bacteria_%d.jpeg", split, i, i)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

func TestHelpAndUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), []string{"help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "export") {
		t.Errorf("help: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := program.Run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := program.Run(context.Background(), []string{"train", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-resume") {
		t.Errorf("train -h: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := program.Run(context.Background(), []string{"export", "--run", t.TempDir()}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-o and --version") {
		t.Errorf("export without -o: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := program.Run(context.Background(), []string{"evaluate", "--model", "x.onnx", "--data", t.TempDir()}, &out, &errb); code != 1 {
		t.Errorf("evaluate of a missing model: code %d, %q", code, errb.String())
	}
}

// The CI smoke test: two epochs on 60 images with a tiny backbone, export, and
// the exported file loads in the screening path and screens the fixtures. It
// also checks that a run stopped after epoch 2 and resumed to epoch 3 ends
// with the same weights as a run of 3 epochs.
func TestSmokeTrainExportScreen(t *testing.T) {
	data := dataRoot(t)
	tmp := t.TempDir()
	common := []string{"--data", data, "--arch", "tiny", "--limit", "60", "--bn-samples", "24", "--workers", "2", "--batch", "16", "--augment-draws", "1"}
	runA := filepath.Join(tmp, "a")
	runCmd(t, append([]string{"train", "--run", runA, "--epochs", "2", "--units", "16"}, common...)...)

	// A second train into the same run folder must not overwrite it.
	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), append([]string{"train", "--run", runA, "--epochs", "2", "--units", "16"}, common...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "--resume") {
		t.Errorf("second train into a run folder: code %d, %q", code, errb.String())
	}

	model := filepath.Join(tmp, "model.onnx")
	s := exportAndLoad(t, runA, model, "smoke-1")
	md := s.Metadata()
	if !md.Trained || md.Version != "smoke-1" || md.Operating != operating.Screening || len(md.Thresholds) != 2 || md.Temperature <= 0 {
		t.Errorf("metadata %+v", md)
	}
	if md.Metrics["val_auc"] <= 0 || md.Thresholds[0].Validation == nil || md.Thresholds[0].Validation.Sensitivity < operating.MinSensitivity {
		t.Errorf("metrics %v: validation AUC missing or screening sensitivity below %v", md.Metrics, operating.MinSensitivity)
	}
	if !strings.Contains(md.Description, "class-weighted") {
		t.Errorf("description %q", md.Description)
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "xray", "*.jpeg"))
	if len(fixtures) != 2 {
		t.Fatalf("fixtures: %v", fixtures)
	}
	for _, f := range fixtures {
		img, _ := os.ReadFile(f)
		r, err := s.Screen(img)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !(r.Prob >= 0 && r.Prob <= 1) || len(r.Heatmap) != r.HeatmapSize*r.HeatmapSize {
			t.Errorf("%s: %+v", f, r)
		}
	}
	runCmd(t, "evaluate", "--model", model, "--data", data, "--limit", "5", "--out", filepath.Join(tmp, "eval"))
	if _, err := os.Stat(filepath.Join(tmp, "eval", "metrics.json")); err != nil {
		t.Error(err)
	}

	// Tune on a's cached features: 3 trials, then 4 with the first 3 taken
	// from the log.
	tuneArgs := append([]string{"tune", "--run", runA, "--epochs", "2", "--patience", "0"}, common...)
	table := runCmd(t, append(tuneArgs, "--trials", "3")...)
	if !strings.Contains(table, "val AUC") || !strings.Contains(table, "best: trial") {
		t.Errorf("tune output %q", table)
	}
	errb.Reset()
	if code := program.Run(context.Background(), append(tuneArgs, "--trials", "4"), &out, &errb); code != 0 || !strings.Contains(errb.String(), "3 trial(s) already done") {
		t.Errorf("tune resume: code %d, %q", code, errb.String())
	}
	if lines := strings.Count(readFile(t, filepath.Join(runA, tuneLog)), "\n"); lines != 4 {
		t.Errorf("tune log has %d lines, want 4", lines)
	}

	// Resume: a to epoch 3 from its epoch-2 checkpoint, b straight to 3.
	errb.Reset()
	if code := program.Run(context.Background(), append([]string{"train", "--run", runA, "--epochs", "3", "--resume", "--units", "32"}, common...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "only --epochs may change") {
		t.Errorf("resume with other units: code %d, %q", code, errb.String())
	}
	runCmd(t, append([]string{"train", "--run", runA, "--epochs", "3", "--resume", "--units", "16"}, common...)...)
	runB := filepath.Join(tmp, "b")
	runCmd(t, append([]string{"train", "--run", runB, "--epochs", "3", "--units", "16"}, common...)...)
	ca, cb := loadCheckpoint(t, runA), loadCheckpoint(t, runB)
	if ca.State.Epoch != 3 || cb.State.Epoch != 3 {
		t.Fatalf("epochs %d and %d, want 3", ca.State.Epoch, cb.State.Epoch)
	}
	for k, pair := range [][2][]float64{{ca.State.Params.W1, cb.State.Params.W1}, {ca.State.Params.W2, cb.State.Params.W2}, {ca.State.Params.B1, cb.State.Params.B1}} {
		for i := range pair[0] {
			if math.Float64bits(pair[0][i]) != math.Float64bits(pair[1][i]) {
				t.Fatalf("resumed run differs from the uninterrupted one: tensor %d [%d] %v vs %v", k, i, pair[0][i], pair[1][i])
			}
		}
	}
}

// The fine-tuning smoke test: the last stage trained with the head on cached
// activations of the tiny backbone, 2 epochs on 60 images, export, screen; a
// run resumed from epoch 2 to 3 equals one of 3 epochs; tune refuses it.
func TestSmokeFinetune(t *testing.T) {
	data := dataRoot(t)
	tmp := t.TempDir()
	common := []string{"--data", data, "--arch", "tiny", "--limit", "60", "--bn-samples", "24", "--workers", "2",
		"--batch", "8", "--units", "16", "--trainable-stages", "1", "--flip-activations"}
	runA := filepath.Join(tmp, "a")
	runCmd(t, append([]string{"train", "--run", runA, "--epochs", "2"}, common...)...)
	acts, _ := filepath.Glob(filepath.Join(runA, "activations", "*.acts"))
	if len(acts) != 2 {
		t.Errorf("activation caches %v, want train and val", acts)
	}
	model := filepath.Join(tmp, "model.onnx")
	s := exportAndLoad(t, runA, model, "ft-1")
	if md := s.Metadata(); !md.Trained || !strings.Contains(md.Description, "fine-tuned") || md.Metrics["val_auc"] <= 0 {
		t.Errorf("metadata %+v", md)
	}
	img, _ := os.ReadFile(filepath.Join("..", "testdata", "xray", "normal-IM-0001-0001.jpeg"))
	if r, err := s.Screen(img); err != nil || !(r.Prob >= 0 && r.Prob <= 1) {
		t.Errorf("screen: %+v %v", r, err)
	}

	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), []string{"tune", "--run", runA, "--data", data, "--arch", "tiny", "--trainable-stages", "1"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not supported") {
		t.Errorf("tune --trainable-stages: code %d, %q", code, errb.String())
	}

	runCmd(t, append([]string{"train", "--run", runA, "--epochs", "3", "--resume"}, common...)...)
	runB := filepath.Join(tmp, "b")
	runCmd(t, append([]string{"train", "--run", runB, "--epochs", "3"}, common...)...)
	ca, cb := loadCheckpoint(t, runA), loadCheckpoint(t, runB)
	var sa, sb finetune.State
	for _, p := range []struct {
		c *checkpoint.Checkpoint
		s *finetune.State
	}{{ca, &sa}, {cb, &sb}} {
		if err := gob.NewDecoder(bytes.NewReader(p.c.Extra)).Decode(p.s); err != nil {
			t.Fatal(err)
		}
	}
	if sa.Epoch != 3 || sb.Epoch != 3 || sa.Step != sb.Step {
		t.Fatalf("epochs %d and %d, steps %d and %d", sa.Epoch, sb.Epoch, sa.Step, sb.Step)
	}
	for i := range sa.Params {
		for j := range sa.Params[i] {
			if math.Float32bits(sa.Params[i][j]) != math.Float32bits(sb.Params[i][j]) {
				t.Fatalf("resumed fine-tuning run differs from the uninterrupted one: tensor %d [%d] %v vs %v", i, j, sa.Params[i][j], sb.Params[i][j])
			}
		}
	}
}

// exportAndLoad exports run's model to path as version and loads it in the screening path.
func exportAndLoad(t *testing.T, run, path, version string) *screen.Screener {
	t.Helper()
	msg := runCmd(t, "export", "--run", run, "-o", path, "--version", version)
	if !strings.Contains(msg, "validation AUC") {
		t.Errorf("export said %q", msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := screen.New(b, convnet.Engine)
	if err != nil {
		t.Fatalf("screen.New refused the exported model: %v", err)
	}
	return s
}

func loadCheckpoint(t *testing.T, run string) *checkpoint.Checkpoint {
	t.Helper()
	c, err := checkpoint.Load(filepath.Join(run, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
