package site

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"pneumoscan/model"
	"pneumoscan/modelfile"
)

// ModelCard is static/web/model-card.json, what the page's model card view shows: the model
// file's own metadata and its Markdown card, rendered here so the browser needs no Markdown
// renderer (app.wasm stays as it is).
type ModelCard struct {
	SHA256   string         `json:"sha256"` // of the model file the site ships
	Metadata model.Metadata `json:"metadata"`
	// Document names the Markdown card (x.md beside the model x.onnx); empty when the model
	// ships none, and then HTML is empty too.
	Document string `json:"document,omitempty"`
	HTML     string `json:"html,omitempty"`
}

// CardPath is where the Markdown card of the model file at modelPath lives: beside it, with
// the extension .md (models/default.onnx -> models/default.md).
func CardPath(modelPath string) string {
	return strings.TrimSuffix(modelPath, filepath.Ext(modelPath)) + ".md"
}

// modelCard reads the metadata of the model (data, the bytes of the file at modelPath) and
// renders its Markdown card when it has one. A model whose metadata does not read is refused:
// a site for it would fail in every browser.
func modelCard(modelPath string, data []byte, sha string) ([]byte, error) {
	mp, err := modelfile.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("site: model %s: %w", modelPath, err)
	}
	md, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return nil, fmt.Errorf("site: model %s: %w", modelPath, err)
	}
	card := ModelCard{SHA256: sha, Metadata: md}
	src, err := os.ReadFile(CardPath(modelPath))
	switch {
	case errors.Is(err, os.ErrNotExist): // a model without a card: the view says so
	case err != nil:
		return nil, fmt.Errorf("site: model card: %w", err)
	default:
		html, err := renderMarkdown(src)
		if err != nil {
			return nil, fmt.Errorf("site: model card %s: %w", CardPath(modelPath), err)
		}
		card.Document, card.HTML = filepath.Base(CardPath(modelPath)), html
	}
	return json.MarshalIndent(card, "", "  ")
}

// markdown is CommonMark with GitHub's tables. Its HTML renderer is left safe (the default):
// raw HTML in the source is dropped and javascript:, vbscript:, file: and data: links are
// emptied, so a card cannot run script in the page.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Table),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(noImages{}, 100))),
)

// renderMarkdown renders a Markdown card to HTML inside one <div> (the page inserts a single
// element).
func renderMarkdown(src []byte) (string, error) {
	var b bytes.Buffer
	b.WriteString(`<div class="card-document">`)
	if err := markdown.Convert(src, &b); err != nil {
		return "", err
	}
	b.WriteString("</div>")
	return b.String(), nil
}

// noImages replaces each image by its alt text: an image could be fetched from another origin,
// and the page makes no request outside its own.
type noImages struct{}

func (noImages) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var images []*ast.Image
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering {
			images = append(images, img)
		}
		return ast.WalkContinue, nil
	})
	for _, img := range images {
		parent := img.Parent()
		for c := img.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, img, c)
			c = next
		}
		parent.RemoveChild(parent, img)
	}
}
