package modelfile

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	"pneumoscan/atomicfile"
	"pneumoscan/model"
	"pneumoscan/onnxpb"
)

// RewriteMetadata returns the model file data with its pneumoscan metadata replaced by what
// edit makes of it (edit gets the metadata as read and changes it in place). Everything else,
// the graph and its weights above all, stays as it was: the result is decoded again and
// compared with the input field by field before it is returned, so a rewrite can never
// retrain, requantize or drop anything. Metadata keys that are not pneumoscan's are kept.
func RewriteMetadata(data []byte, edit func(*model.Metadata) error) ([]byte, model.Metadata, error) {
	mp, err := Unmarshal(data)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	md, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	if err := edit(&md); err != nil {
		return nil, model.Metadata{}, err
	}
	if err := model.SetMetadata(mp, md); err != nil {
		return nil, model.Metadata{}, err
	}
	out, err := Marshal(mp)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	if err := sameButMetadata(data, out, md); err != nil {
		return nil, model.Metadata{}, err
	}
	return out, md, nil
}

// sameButMetadata checks that after decodes to before with only the metadata changed, and
// that its metadata reads back as want.
func sameButMetadata(before, after []byte, want model.Metadata) error {
	a, err := Unmarshal(before)
	if err != nil {
		return err
	}
	b, err := Unmarshal(after)
	if err != nil {
		return fmt.Errorf("the rewritten model does not decode: %w", err)
	}
	got, err := model.ParseMetadata(b.MetadataProps)
	if err != nil {
		return fmt.Errorf("the rewritten model's metadata does not read back: %w", err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("the rewritten model's metadata reads back as %+v, not %+v", got, want)
	}
	a.MetadataProps, b.MetadataProps = nil, nil
	if !onnxpb.Equal(a, b) {
		return fmt.Errorf("rewriting the metadata changed the model itself (graph, weights or header): refusing")
	}
	return nil
}

// RewriteMetadataFile rewrites the metadata of the model file in (RewriteMetadata) into out,
// which may be in: atomically, then read back from disk and checked against the bytes meant.
// On any error before the rename, out is left as it was.
func RewriteMetadataFile(in, out string, edit func(*model.Metadata) error) (model.Metadata, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return model.Metadata{}, err
	}
	rewritten, md, err := RewriteMetadata(data, edit)
	if err != nil {
		return model.Metadata{}, fmt.Errorf("%s: %w", in, err)
	}
	if err := atomicfile.Write(out, rewritten); err != nil {
		return model.Metadata{}, err
	}
	back, err := os.ReadFile(out)
	if err != nil {
		return model.Metadata{}, err
	}
	if !bytes.Equal(back, rewritten) {
		return model.Metadata{}, fmt.Errorf("%s reads back different from what was written", out)
	}
	return md, nil
}
