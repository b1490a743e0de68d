package modelfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
)

func tinyFile(t *testing.T) []byte {
	t.Helper()
	b, h, md := tinyModel(t)
	mp, err := Build(b, h, md)
	if err != nil {
		t.Fatal(err)
	}
	mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: "other.tool", Value: "kept"})
	data, err := Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRewriteMetadata(t *testing.T) {
	data := tinyFile(t)
	out, md, err := RewriteMetadata(data, func(m *model.Metadata) error {
		m.Population = "test films"
		m.Thresholds[0].Indeterminate = 0.05
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if md.Population != "test films" || md.Thresholds[0].Indeterminate != 0.05 {
		t.Errorf("returned metadata %+v lacks the edit", md)
	}
	a, _ := Unmarshal(data)
	b, err := Unmarshal(out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := model.ParseMetadata(b.MetadataProps)
	if err != nil || back.Population != "test films" {
		t.Fatalf("rewritten metadata: %+v, %v", back, err)
	}
	kept := false
	for _, p := range b.MetadataProps {
		kept = kept || (p.Key == "other.tool" && p.Value == "kept")
	}
	if !kept {
		t.Error("a metadata key that is not pneumoscan's was dropped")
	}
	ga, _ := Marshal(&onnxpb.ModelProto{Graph: a.Graph})
	gb, _ := Marshal(&onnxpb.ModelProto{Graph: b.Graph})
	if !bytes.Equal(ga, gb) {
		t.Error("the graph's bytes changed")
	}
	// An edit that leaves the metadata invalid, or fails, writes nothing.
	if _, _, err := RewriteMetadata(data, func(m *model.Metadata) error { m.Thresholds[0].Indeterminate = 0.7; return nil }); err == nil {
		t.Error("an invalid band was accepted")
	}
	boom := errors.New("boom")
	if _, _, err := RewriteMetadata(data, func(*model.Metadata) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("edit error: got %v", err)
	}
}

// TestSameButMetadataCatchesWeights: the check that guards a rewrite fails when anything
// but the metadata differs.
func TestSameButMetadataCatchesWeights(t *testing.T) {
	data := tinyFile(t)
	mp, _ := Unmarshal(data)
	md, _ := model.ParseMetadata(mp.MetadataProps)
	init := mp.Graph.Initializer[0]
	if len(init.FloatData) > 0 {
		init.FloatData[0] += 1
	} else {
		init.RawData[0] ^= 1
	}
	changed, _ := Marshal(mp)
	if err := sameButMetadata(data, changed, md); err == nil || !strings.Contains(err.Error(), "changed the model itself") {
		t.Errorf("a changed weight passed the check: %v", err)
	}
	if err := sameButMetadata(data, data, md); err != nil {
		t.Errorf("an unchanged model failed the check: %v", err)
	}
}

func TestRewriteMetadataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.onnx")
	data := tinyFile(t)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RewriteMetadataFile(path, path, func(m *model.Metadata) error { m.Thresholds[0].Indeterminate = 0.9; return nil }); err == nil {
		t.Fatal("an invalid edit succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Fatal("a failed rewrite changed the file")
	}
	md, err := RewriteMetadataFile(path, path, func(m *model.Metadata) error { m.Population = "p"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	mp, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := model.ParseMetadata(mp.MetadataProps)
	if back.Population != "p" || md.Population != "p" {
		t.Errorf("in-place rewrite: file says %q, returned %q", back.Population, md.Population)
	}
}
