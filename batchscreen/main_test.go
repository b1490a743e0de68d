package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pneumoscan/convnet"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/screen"
)

// TestMain lets a test run the command as a separate process (the shard and kill tests):
// the test binary started with BATCHSCREEN_TEST_MAIN=1 is batchscreen itself.
func TestMain(m *testing.M) {
	if os.Getenv("BATCHSCREEN_TEST_MAIN") == "1" {
		os.Exit(program.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The fixture tree's files and what each must give.
const (
	normalFilm    = "films/normal-IM-0001-0001.jpeg"
	pneumoniaFilm = "films/pneumonia-person100_bacteria_475.jpeg"
	dicomChest    = "dicom/chest" // no extension: found by its content
	dicomCT       = "dicom/ct.dcm"
	brokenJPEG    = "bad/broken.jpeg"
	blackPNG      = "bad/black.png"
)

// fixtureTree writes a folder of the X-ray fixtures, a chest DICOM without an extension, a
// CT DICOM (refused), a truncated JPEG (damaged), a black PNG (no film to read), a text file
// and a hidden file (both skipped), and copies more copies of the films under copies/.
func fixtureTree(t *testing.T, copies int) string {
	t.Helper()
	root := t.TempDir()
	normal := testmodel.XRay(t, "normal-IM-0001-0001.jpeg")
	pneumonia := testmodel.XRay(t, "pneumonia-person100_bacteria_475.jpeg")
	var black bytes.Buffer
	if err := png.Encode(&black, image.NewGray(image.Rect(0, 0, 512, 512))); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		normalFilm:       normal,
		pneumoniaFilm:    pneumonia,
		dicomChest:       testmodel.Read(t, "imagedecode/testdata/dicom/explicit_le.dcm"),
		dicomCT:          testmodel.Read(t, "imagedecode/testdata/dicom/ct.dcm"),
		brokenJPEG:       normal[:len(normal)/2],
		blackPNG:         black.Bytes(),
		"notes.txt":      []byte("not an image\n"),
		".DS_Store":      []byte("hidden"),
		"films/.partial": normal,
	}
	for i := range copies {
		src := normal
		if i%2 == 1 {
			src = pneumonia
		}
		files[fmt.Sprintf("copies/%03d.jpeg", i)] = src
	}
	for rel, data := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// writeModel writes model bytes to a file of the test's own.
func writeModel(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCmd runs batchscreen in this process and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := program.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustRun is runCmd failing the test unless it exits 0.
func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errs := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("batchscreen %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out, errs
}

// process starts batchscreen as a separate process (this test binary, see TestMain).
func process(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "BATCHSCREEN_TEST_MAIN=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// results reads a run's two outputs, checks they hold the same rows, and returns them.
func results(t *testing.T, dir string, sh shard) []row {
	t.Helper()
	csvRows, err := readRows(filepath.Join(dir, sh.outputName("csv")), csvFormat)
	if err != nil {
		t.Fatal(err)
	}
	jsonRows, err := readRows(filepath.Join(dir, sh.outputName("jsonl")), jsonlFormat)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(csvRows, jsonRows) {
		t.Fatalf("%s: the CSV and JSON Lines rows differ:\n%v\n%v", sh, csvRows, jsonRows)
	}
	return csvRows
}

func byFile(rows []row) map[string]row {
	m := map[string]row{}
	for _, r := range rows {
		m[r.File] = r
	}
	return m
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestScreenFolder: every image of the tree gets a row with its sha256, the probability and
// verdict screen gives it, the threshold and the model's sha256; refused files get their
// message and the batch goes on; the text file and the hidden ones are skipped and counted.
func TestScreenFolder(t *testing.T) {
	root := fixtureTree(t, 0)
	tiny := testmodel.Tiny(t)
	modelPath := writeModel(t, tiny)
	out := t.TempDir()
	stdout, _ := mustRun(t, "screen", "--model", modelPath, "--out", out, "--workers", "2", root)
	rows := results(t, out, shard{})

	var files []string
	for _, r := range rows {
		files = append(files, r.File)
	}
	want := []string{blackPNG, brokenJPEG, dicomChest, dicomCT, normalFilm, pneumoniaFilm}
	if !slices.Equal(files, want) {
		t.Fatalf("rows for %v, want %v in walk order", files, want)
	}
	for _, s := range []string{"skipped 1: " + skipNotImage, "skipped 2: " + skipHidden, "6 rows written", "3 refused or unreadable"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("summary lacks %q:\n%s", s, stdout)
		}
	}

	s, err := screen.New(tiny, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	meta := s.Metadata()
	op, err := meta.OperatingThreshold()
	if err != nil {
		t.Fatal(err)
	}
	got := byFile(rows)
	for _, f := range want {
		r := got[f]
		data := read(t, filepath.Join(root, filepath.FromSlash(f)))
		if r.SHA256 != sha(data) || r.ModelSHA256 != sha(tiny) || r.Threshold != op.Name || r.ThresholdValue != op.Value {
			t.Errorf("%s: row %+v: want sha256 %s, model %s, threshold %s %g", f, r, sha(data), sha(tiny), op.Name, op.Value)
		}
		res, err := s.Screen(data)
		if err != nil {
			if r.Error != err.Error() || r.Probability != nil || r.Verdict != "" || r.Gate != "" {
				t.Errorf("%s: row %+v, want the error %q and no score", f, r, err)
			}
			continue
		}
		d, err := meta.Decide(res.RawProb, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Error != "" || r.Probability == nil || *r.Probability != d.Prob || r.Verdict != string(d.Verdict) || r.Gate != noGate {
			t.Errorf("%s: row %+v, want P %v, verdict %s, gate %q", f, r, d.Prob, d.Verdict, noGate)
		}
	}
	// The refusals carry imagedecode's and filmcheck's own messages.
	for f, msg := range map[string]string{
		brokenJPEG: "The JPEG file is damaged or incomplete.",
		dicomCT:    "CT image",
		blackPNG:   "no film to read",
	} {
		if !strings.Contains(got[f].Error, msg) {
			t.Errorf("%s: error %q, want one saying %q", f, got[f].Error, msg)
		}
	}
	for _, f := range []string{dicomChest, normalFilm, pneumoniaFilm} {
		if got[f].Probability == nil {
			t.Errorf("%s was not screened: %+v", f, got[f])
		}
	}

	// Run again: nothing is screened twice, nothing changes.
	before := read(t, filepath.Join(out, "results.csv"))
	stdout, _ = mustRun(t, "screen", "--model", modelPath, "--out", out, root)
	if !strings.Contains(stdout, "0 rows written") || !strings.Contains(stdout, "6 already written") {
		t.Errorf("second run: %s", stdout)
	}
	if !bytes.Equal(read(t, filepath.Join(out, "results.csv")), before) {
		t.Error("a second run changed the results")
	}
}

// TestShardsAsProcesses: three shards run as three processes at once, one picked by
// --shard, two by JOB_COMPLETION_INDEX (with --shards, and with BATCHSCREEN_SHARDS), give
// exactly the rows of one unsharded run, each file in one shard only.
func TestShardsAsProcesses(t *testing.T) {
	root := fixtureTree(t, 30)
	modelPath := writeModel(t, testmodel.Tiny(t))
	ref := t.TempDir()
	mustRun(t, "screen", "--model", modelPath, "--out", ref, "--workers", "2", root)
	want := results(t, ref, shard{})

	out := t.TempDir()
	args := []string{"screen", "--model", modelPath, "--out", out, "--workers", "1", root}
	type proc struct {
		cmd *exec.Cmd
		log *bytes.Buffer
	}
	var procs []proc
	for i, env := range [][]string{nil, {envIndex + "=1"}, {envIndex + "=2", envShards + "=3"}} {
		a := slices.Clone(args)
		switch i {
		case 0:
			a = append(a, "--shard", "0/3")
		case 1:
			a = append(a, "--shards", "3")
		}
		cmd, log := process(t, env, a...)
		procs = append(procs, proc{cmd, log})
	}
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, p.log)
		}
	}
	var union []row
	for i := range 3 {
		sh := shard{i, 3}
		rows := results(t, out, sh)
		if len(rows) == 0 {
			t.Errorf("%s is empty: the test would not show the shards split the files", sh)
		}
		for _, r := range rows {
			if !sh.Has(r.File) {
				t.Errorf("%s holds %s, which hashes to another shard", sh, r.File)
			}
		}
		union = append(union, rows...)
	}
	cmp := func(a, b row) int { return strings.Compare(a.File, b.File) }
	slices.SortFunc(union, cmp)
	slices.SortFunc(want, cmp)
	if !reflect.DeepEqual(union, want) {
		t.Fatalf("the shards' rows (%d) differ from one run's (%d)", len(union), len(want))
	}
}

// dataLines counts the whole rows of a results file.
func dataLines(b []byte, f format) int {
	n := bytes.Count(b, []byte{'\n'})
	if f.header != nil && n > 0 {
		n--
	}
	return n
}

// TestKillAndRestart: a run killed with SIGKILL while it writes, then started again, ends
// with exactly the files of an uninterrupted run: no row lost, none repeated, same order.
func TestKillAndRestart(t *testing.T) {
	const copies = 150
	root := fixtureTree(t, copies)
	modelPath := writeModel(t, testmodel.Tiny(t))
	ref := t.TempDir()
	mustRun(t, "screen", "--model", modelPath, "--out", ref, "--workers", "2", root)
	total := len(results(t, ref, shard{}))

	out := t.TempDir()
	args := []string{"screen", "--model", modelPath, "--out", out, "--workers", "2", root}
	cmd, log := process(t, nil, args...)
	csvPath, jsonPath := filepath.Join(out, "results.csv"), filepath.Join(out, "results.jsonl")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(csvPath)
		if dataLines(b, csvFormat) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no 20 rows within 30 s:\n%s", log)
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	csvAfter, jsonAfter := read(t, csvPath), read(t, jsonPath)
	nCSV, nJSON := dataLines(csvAfter, csvFormat), dataLines(jsonAfter, jsonlFormat)
	if nCSV >= total {
		t.Fatalf("the run finished (%d rows) before the kill: the test shows nothing", nCSV)
	}
	t.Logf("killed after %d CSV rows, %d JSON Lines rows, of %d", nCSV, nJSON, total)
	// What the kill left is rows of the reference, in its order, with at most a partial last line.
	for _, c := range []struct{ got, want []byte }{{csvAfter, read(t, filepath.Join(ref, "results.csv"))}, {jsonAfter, read(t, filepath.Join(ref, "results.jsonl"))}} {
		whole := c.got[:bytes.LastIndexByte(c.got, '\n')+1]
		if !bytes.HasPrefix(c.want, whole) {
			t.Fatal("the rows written before the kill are not the reference's first rows")
		}
	}

	stdout, stderr := mustRun(t, args...)
	resumed := min(nCSV, nJSON)
	if want := fmt.Sprintf("%d rows written", total-resumed); !strings.Contains(stdout, want) {
		t.Errorf("restart: %q lacks %q", stdout, want)
	}
	if want := fmt.Sprintf("%d already written", resumed); !strings.Contains(stdout, want) {
		t.Errorf("restart: %q lacks %q", stdout, want)
	}
	t.Logf("restart: %s%s", stdout, stderr)
	for _, name := range []string{"results.csv", "results.jsonl"} {
		if !bytes.Equal(read(t, filepath.Join(out, name)), read(t, filepath.Join(ref, name))) {
			t.Errorf("%s after the kill and restart differs from the uninterrupted run's", name)
		}
	}
}

// TestPartialLineRepaired: a row cut short at the end of each output (a crash in the middle
// of a write) is removed, said so, and its file screened again; rows before it are kept.
func TestPartialLineRepaired(t *testing.T) {
	root := fixtureTree(t, 4)
	modelPath := writeModel(t, testmodel.Tiny(t))
	ref := t.TempDir()
	mustRun(t, "screen", "--model", modelPath, "--out", ref, root)

	out := t.TempDir()
	for name, drop := range map[string]int{"results.csv": 3, "results.jsonl": 2} {
		b := read(t, filepath.Join(ref, name))
		lines := bytes.SplitAfter(b, []byte{'\n'})
		lines = lines[:len(lines)-1] // the empty piece after the last \n
		keep := bytes.Join(lines[:len(lines)-drop], nil)
		cut := lines[len(lines)-drop]
		keep = append(keep, cut[:len(cut)/2]...)
		if err := os.WriteFile(filepath.Join(out, name), keep, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr := mustRun(t, "screen", "--model", modelPath, "--out", out, root)
	for _, name := range []string{"results.csv", "results.jsonl"} {
		if !strings.Contains(stderr, filepath.Join(out, name)+": removed a partial last row") {
			t.Errorf("stderr does not report the partial row of %s:\n%s", name, stderr)
		}
		if !bytes.Equal(read(t, filepath.Join(out, name)), read(t, filepath.Join(ref, name))) {
			t.Errorf("%s after the repair differs from the uninterrupted run's", name)
		}
	}
}

// TestAnotherModelRefused: results made with one model are never appended to with another
// (nor at another operating point); the files stay unchanged; --restart starts them over.
func TestAnotherModelRefused(t *testing.T) {
	root := fixtureTree(t, 0)
	tiny := testmodel.Tiny(t)
	other, _, err := modelfile.RewriteMetadata(tiny, func(m *model.Metadata) error {
		m.Version += "-other"
		m.Thresholds = append(m.Thresholds, model.Threshold{Name: "sensitive", Value: 0.3})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tinyPath, otherPath := writeModel(t, tiny), writeModel(t, other)
	out := t.TempDir()
	mustRun(t, "screen", "--model", tinyPath, "--out", out, root)
	csvBefore, jsonBefore := read(t, filepath.Join(out, "results.csv")), read(t, filepath.Join(out, "results.jsonl"))
	unchanged := func(what string) {
		t.Helper()
		if !bytes.Equal(read(t, filepath.Join(out, "results.csv")), csvBefore) || !bytes.Equal(read(t, filepath.Join(out, "results.jsonl")), jsonBefore) {
			t.Errorf("%s changed the results", what)
		}
	}

	code, _, stderr := runCmd(t, "screen", "--model", otherPath, "--out", out, root)
	if code != 1 || !strings.Contains(stderr, "holds rows of another model") || !strings.Contains(stderr, "--restart") {
		t.Errorf("another model: exit %d, stderr %q", code, stderr)
	}
	unchanged("another model")

	mustRun(t, "screen", "--model", otherPath, "--out", out, "--restart", root)
	rows := results(t, out, shard{})
	if len(rows) != 6 {
		t.Errorf("after --restart: %d rows, want 6", len(rows))
	}
	for _, r := range rows {
		if r.ModelSHA256 != sha(other) {
			t.Errorf("after --restart, %s has model %s", r.File, r.ModelSHA256)
		}
	}

	csvBefore, jsonBefore = read(t, filepath.Join(out, "results.csv")), read(t, filepath.Join(out, "results.jsonl"))
	code, _, stderr = runCmd(t, "screen", "--model", otherPath, "--out", out, "--threshold", "sensitive", root)
	if code != 1 || !strings.Contains(stderr, `decided at operating point "balanced", not "sensitive"`) {
		t.Errorf("another operating point: exit %d, stderr %q", code, stderr)
	}
	unchanged("another operating point")

	code, _, stderr = runCmd(t, "screen", "--model", otherPath, "--out", t.TempDir(), "--threshold", "nosuch", root)
	if code != 2 || !strings.Contains(stderr, "operating points are balanced, sensitive") {
		t.Errorf("unknown operating point: exit %d, stderr %q", code, stderr)
	}
}

// TestList: a list read from stdin screens the files as listed (paths kept as written),
// each once; a listed file that is not an image, or is missing, gets a row saying so.
func TestList(t *testing.T) {
	root := fixtureTree(t, 0)
	modelPath := writeModel(t, testmodel.Tiny(t))
	film := filepath.ToSlash(filepath.Join(root, normalFilm))
	notes := filepath.ToSlash(filepath.Join(root, "notes.txt"))
	missing := filepath.ToSlash(filepath.Join(root, "gone.jpeg"))
	stdin = strings.NewReader(film + "\r\n\n" + notes + "\n" + missing + "\n" + film + "\n")
	defer func() { stdin = os.Stdin }()
	out := t.TempDir()
	stdout, _ := mustRun(t, "screen", "--model", modelPath, "--out", out, "--list", "-")
	rows := byFile(results(t, out, shard{}))
	if len(rows) != 3 || rows[film].Probability == nil {
		t.Fatalf("rows %+v", rows)
	}
	if !strings.Contains(rows[notes].Error, "not an image pneumoscan can read") {
		t.Errorf("listed text file: %+v", rows[notes])
	}
	if rows[missing].Error != "the file could not be read: no such file or directory" || rows[missing].SHA256 != "" {
		t.Errorf("listed missing file: %+v", rows[missing])
	}
	if !strings.Contains(stdout, "skipped 1: "+skipDuplicate) {
		t.Errorf("summary: %s", stdout)
	}

	code, _, stderr := runCmd(t, "screen", "--model", modelPath, "--list", "x", root)
	if code != 2 || !strings.Contains(stderr, "not both") {
		t.Errorf("folder and list: exit %d, %q", code, stderr)
	}
}

// gatedTiny is the tiny model with a gate (contract 2) that passes every film (refuse
// false) or calls every image a photograph (refuse true); its orientation head is sure every
// film is upright.
func gatedTiny(t *testing.T, refuse bool) []byte {
	t.Helper()
	tiny := testmodel.Tiny(t)
	s, err := screen.New(tiny, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagedecode.Decode(testmodel.XRay(t, "normal-IM-0001-0001.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := s.PooledFeatures(img)
	if err != nil {
		t.Fatal(err)
	}
	d := len(f)
	p := model.GateParams{Dim: d, Mean: f, Basis: make([]float32, d), Variance: []float32{1, 1},
		Weight: make([]float32, 2*d), Bias: []float32{2, 0},
		OrientWeight: make([]float32, d*int(model.Orientations)), OrientBias: make([]float32, model.Orientations)}
	p.Basis[0] = 1
	p.OrientBias[model.Upright] = 20
	if refuse {
		p.Bias = []float32{0, 2}
	}
	q := make([]float64, 101)
	for i := range q {
		q[i] = float64(i)
	}
	out, _, err := modelfile.WithGate(tiny, p, func(m *model.Metadata) error {
		m.Gate = &model.GateSpec{Classes: []string{model.FrontalClass, "photograph"}, Accept: 0.5, Correct: 0.9, Warn: 1e6, Quantiles: q}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGatedModel: with a contract-2 model the gate column says what the gate said; an image
// it refuses is a row with its message and code, and the batch goes on.
func TestGatedModel(t *testing.T) {
	root := fixtureTree(t, 0)
	pass := filepath.Join(t.TempDir(), "pass")
	mustRun(t, "screen", "--model", writeModel(t, gatedTiny(t, false)), "--out", pass, root)
	rows := byFile(results(t, pass, shard{}))
	for _, f := range []string{dicomChest, normalFilm, pneumoniaFilm} {
		if r := rows[f]; r.Probability == nil || r.Gate != gatePassed || r.Population != popInside || r.Correction != "" {
			t.Errorf("passing gate, %s: %+v", f, r)
		}
	}
	if r := rows[brokenJPEG]; r.Gate != "" || r.Population != "" {
		t.Errorf("a file that does not decode never reaches the gate: %+v", r)
	}

	refuse := filepath.Join(t.TempDir(), "refuse")
	stdout, _ := mustRun(t, "screen", "--model", writeModel(t, gatedTiny(t, true)), "--out", refuse, root)
	rows = byFile(results(t, refuse, shard{}))
	if len(rows) != 6 || !strings.Contains(stdout, "6 refused or unreadable") {
		t.Fatalf("refusing gate: %d rows; %s", len(rows), stdout)
	}
	for _, f := range []string{dicomChest, normalFilm, pneumoniaFilm} {
		r := rows[f]
		if r.Probability != nil || r.Gate != model.RefusedNotChest || !strings.Contains(r.Error, "does not look like a frontal chest X-ray (looks like: photograph)") {
			t.Errorf("refusing gate, %s: %+v", f, r)
		}
	}
}
