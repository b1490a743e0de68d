// Package shard moves a trained model off a machine whose outputs are capped per file: the
// int8 ONNX file cut into parts, and the folded float32 weights stored as float16 shards,
// every file listed in a JSON manifest with its sha256, so that the receiving side can
// reassemble them and prove nothing was lost or mixed up on the way.
package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"

	"github.com/x448/float16"

	"pneumoscan/resnet"
)

// ManifestName is the manifest's file name inside the output folder.
const ManifestName = "manifest.json"

// MaxPart is the largest part written: under the 16 MiB cap per file with room to spare.
const MaxPart = 15 << 20

// File is one written file.
type File struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Blob is a whole file cut into parts.
type Blob struct {
	Name   string `json:"name"` // the reassembled file's name
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	Parts  []File `json:"parts"`
}

// Tensor locates one weight in the float16 stream, in elements.
type Tensor struct {
	Name   string `json:"name"`
	Dims   []int  `json:"dims"`
	Offset int    `json:"offset"`
}

// Manifest describes what a training run sent back.
type Manifest struct {
	Arch    resnet.Arch `json:"arch"`
	Hidden  int         `json:"hidden"`
	Model   Blob        `json:"model"`   // the int8 contract ONNX
	Weights Blob        `json:"weights"` // float16 little-endian stream of Tensors; no parts when left out
	Tensors []Tensor    `json:"tensors"`
	Extra   []File      `json:"extra,omitempty"` // logs and other whole files
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeBlob cuts data into parts of at most MaxPart bytes, name.part0, name.part1, ...
func writeBlob(dir, name string, data []byte) (Blob, error) {
	bl := Blob{Name: name, Bytes: int64(len(data)), SHA256: digest(data)}
	for i := 0; i*MaxPart < len(data) || i == 0; i++ {
		p := data[i*MaxPart : min((i+1)*MaxPart, len(data))]
		f := File{Name: fmt.Sprintf("%s.part%d", name, i), Bytes: int64(len(p)), SHA256: digest(p)}
		if err := atomicfile.Write(filepath.Join(dir, f.Name), p); err != nil {
			return Blob{}, err
		}
		bl.Parts = append(bl.Parts, f)
	}
	return bl, nil
}

// weightList names the tensors in a fixed order: each convolution's weight and bias in
// resnet's forward order, then the head.
func weightList(b *resnet.Backbone, h *resnet.Head) ([]Tensor, [][]float32) {
	var ts []Tensor
	var vs [][]float32
	off := 0
	add := func(name string, dims []int, v []float32) {
		ts = append(ts, Tensor{Name: name, Dims: dims, Offset: off})
		vs = append(vs, v)
		off += len(v)
	}
	for i, c := range b.Arch.Convs() {
		add(c.Name+".weight", c.WeightShape(), b.Convs[i].Weight)
		add(c.Name+".bias", []int{c.Out}, b.Convs[i].Bias)
	}
	add("head.fc1.weight", []int{h.Features, h.Hidden}, h.FC1)
	add("head.fc1.bias", []int{h.Hidden}, h.B1)
	add("head.fc2.weight", []int{h.Hidden, 1}, h.FC2)
	add("head.fc2.bias", []int{1}, h.B2)
	return ts, vs
}

// Write stores the model file's bytes and, when withWeights, the float16 weights in dir,
// with extra files (already in dir) listed too, and writes the manifest last. The weights
// (51 MB for ResNet50) can be left out where the int8 model alone must fit the cap on what
// comes back.
func Write(dir string, onnx []byte, b *resnet.Backbone, h *resnet.Head, withWeights bool, extra ...string) (*Manifest, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	if err := h.Check(); err != nil {
		return nil, err
	}
	m := &Manifest{Arch: b.Arch, Hidden: h.Hidden}
	var err error
	if m.Model, err = writeBlob(dir, "model.int8.onnx", onnx); err != nil {
		return nil, err
	}
	if withWeights {
		if err := writeWeights(dir, m, b, h); err != nil {
			return nil, err
		}
	}
	for _, name := range extra {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		m.Extra = append(m.Extra, File{Name: name, Bytes: int64(len(data)), SHA256: digest(data)})
	}
	js, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	return m, atomicfile.Write(filepath.Join(dir, ManifestName), append(js, '\n'))
}

func writeWeights(dir string, m *Manifest, b *resnet.Backbone, h *resnet.Head) error {
	ts, vs := weightList(b, h)
	var buf bytes.Buffer
	for i, v := range vs {
		for _, x := range v {
			f := float16.Fromfloat32(x)
			if !f.IsFinite() {
				return fmt.Errorf("shard: %s holds %v, outside float16's range", ts[i].Name, x)
			}
			binary.Write(&buf, binary.LittleEndian, f.Bits())
		}
	}
	m.Tensors = ts
	var err error
	m.Weights, err = writeBlob(dir, "weights.fp16", buf.Bytes())
	return err
}

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("shard: %s: %w", ManifestName, err)
	}
	return m, nil
}

// ErrMismatch is wrapped by every size or checksum mismatch.
var ErrMismatch = errors.New("checksum or size mismatch")

func readChecked(dir string, f File) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, f.Name))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != f.Bytes || digest(data) != f.SHA256 {
		return nil, fmt.Errorf("shard: %s: %d bytes sha256 %s, manifest says %d bytes %s: %w",
			f.Name, len(data), digest(data), f.Bytes, f.SHA256, ErrMismatch)
	}
	return data, nil
}

// Join reads and checks every part of a blob and the whole.
func Join(dir string, bl Blob) ([]byte, error) {
	var all []byte
	for _, p := range bl.Parts {
		data, err := readChecked(dir, p)
		if err != nil {
			return nil, err
		}
		all = append(all, data...)
	}
	if int64(len(all)) != bl.Bytes || digest(all) != bl.SHA256 {
		return nil, fmt.Errorf("shard: reassembled %s: %d bytes sha256 %s, manifest says %d bytes %s: %w",
			bl.Name, len(all), digest(all), bl.Bytes, bl.SHA256, ErrMismatch)
	}
	return all, nil
}

// Verify checks every file the manifest lists and returns the reassembled model file.
func Verify(dir string, m *Manifest) ([]byte, error) {
	for _, f := range m.Extra {
		if _, err := readChecked(dir, f); err != nil {
			return nil, err
		}
	}
	if m.HasWeights() {
		if _, err := Join(dir, m.Weights); err != nil {
			return nil, err
		}
	}
	return Join(dir, m.Model)
}

// HasWeights says whether the run sent float16 weight shards.
func (m *Manifest) HasWeights() bool { return len(m.Weights.Parts) > 0 }

// ErrNoWeights is returned by Weights for a run that left its weight shards out.
var ErrNoWeights = errors.New("shard: the run sent no float16 weight shards")

// Weights reassembles the float16 weights as float32 resnet weights.
func Weights(dir string, m *Manifest) (*resnet.Backbone, *resnet.Head, error) {
	if !m.HasWeights() {
		return nil, nil, ErrNoWeights
	}
	data, err := Join(dir, m.Weights)
	if err != nil {
		return nil, nil, err
	}
	vals := make([]float32, len(data)/2)
	for i := range vals {
		vals[i] = float16.Frombits(binary.LittleEndian.Uint16(data[2*i:])).Float32()
	}
	f := m.Arch.Features()
	b := &resnet.Backbone{Arch: m.Arch, Convs: make([]resnet.ConvWeights, len(m.Arch.Convs()))}
	h := &resnet.Head{Features: f, Hidden: m.Hidden}
	ts, _ := weightList(&resnet.Backbone{Arch: m.Arch, Convs: b.Convs}, h)
	if len(ts) != len(m.Tensors) {
		return nil, nil, fmt.Errorf("shard: manifest lists %d tensors, the architecture has %d: %w", len(m.Tensors), len(ts), resnet.ErrShape)
	}
	for i, t := range m.Tensors {
		size := 1
		for _, d := range t.Dims {
			size *= d
		}
		if t.Name != ts[i].Name || t.Offset < 0 || t.Offset+size > len(vals) || fmt.Sprint(t.Dims) != fmt.Sprint(ts[i].Dims) {
			return nil, nil, fmt.Errorf("shard: tensor %d is %s %v at %d, want %s %v: %w", i, t.Name, t.Dims, t.Offset, ts[i].Name, ts[i].Dims, resnet.ErrShape)
		}
		v := vals[t.Offset : t.Offset+size]
		switch k := i / 2; {
		case k < len(b.Convs) && i%2 == 0:
			b.Convs[k].Weight = v
		case k < len(b.Convs):
			b.Convs[k].Bias = v
		default:
			switch t.Name {
			case "head.fc1.weight":
				h.FC1 = v
			case "head.fc1.bias":
				h.B1 = v
			case "head.fc2.weight":
				h.FC2 = v
			case "head.fc2.bias":
				h.B2 = v
			}
		}
	}
	if err := b.Check(); err != nil {
		return nil, nil, err
	}
	return b, h, h.Check()
}
