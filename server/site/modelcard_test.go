package site

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readCard(t *testing.T, dir string) ModelCard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "web", "model-card.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c ModelCard
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestModelCard: the card data holds the model's own metadata and its Markdown card, found
// beside the model, rendered with tables and emphasis, and made safe.
func TestModelCard(t *testing.T) {
	o := fakeInputs(t, tinyModel(t, "card"))
	res, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	c := readCard(t, o.Dir)
	if c.SHA256 != res.Model.SHA256 || c.Metadata.Version != "card" || c.Document != "" || c.HTML != "" {
		t.Errorf("without a card document: %+v", c)
	}

	md := "# Intended use\n\nScreening *only*, see [the paper](https://doi.org/10.1016/j.cell.2018.02.010).\n\n" +
		"| split | AUC |\n|---|---|\n| test | 0.947 |\n\n- one\n- two\n\n" +
		"<script>alert(1)</script>\n\n[bad](javascript:alert(1)) ![remote](https://example.com/x.png) <b onclick=\"x()\">raw</b>\n"
	if err := os.WriteFile(CardPath(o.Model), []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(o); err != nil {
		t.Fatal(err)
	}
	c = readCard(t, o.Dir)
	if c.Document != "m.md" {
		t.Errorf("document %q, want m.md", c.Document)
	}
	for _, want := range []string{`<div class="card-document">`, "<h1>Intended use</h1>", "<em>only</em>", `<a href="https://doi.org/10.1016/j.cell.2018.02.010">`,
		"<table>", "<td>0.947</td>", "<li>one</li>", "remote"} {
		if !strings.Contains(c.HTML, want) {
			t.Errorf("card HTML lacks %q:\n%s", want, c.HTML)
		}
	}
	for _, bad := range []string{"<script", "javascript:", "onclick", "<img", "example.com"} {
		if strings.Contains(c.HTML, bad) {
			t.Errorf("card HTML contains %q:\n%s", bad, c.HTML)
		}
	}
}

func TestGenerateRefusesAModelWithoutMetadata(t *testing.T) {
	o := fakeInputs(t, "not a model")
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "m.onnx") {
		t.Errorf("err = %v, want one naming the unusable model", err)
	}
}
