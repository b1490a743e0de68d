package backbone

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"

	"pneumoscan/resnet"
	"pneumoscan/training/dataset"
)

// The calibrated weights are cached (Config.CacheDir) under a hash of everything they are made
// from, so that every trainer command after the first skips the minutes BatchNorm
// re-estimation takes: the source weights' content, seed, architecture, input size and the
// exact calibration sample (paths and content hashes).

// recipe is the hex SHA-256 of what the calibrated weights are made from.
func recipe(cfg Config, sample []dataset.Item) (string, error) {
	source := cfg.Source
	if source != SourceNone {
		f, err := os.Open(source)
		if err != nil {
			return "", fmt.Errorf("backbone: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("backbone: %s: %w", source, err)
		}
		source = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	type item struct{ Rel, SHA256 string }
	var items []item
	if cfg.Source == SourceNone || cfg.Reestimate {
		for _, it := range sample {
			items = append(items, item{itemName(it), it.SHA256})
		}
	}
	b, err := json.Marshal(struct {
		Format     int
		Source     string
		Seed       uint64
		Arch       resnet.Arch
		Size       int
		Reestimate bool
		Eps        float64
		Sample     []item
	}{1, source, cfg.Seed, cfg.Arch, cfg.Size, cfg.Source == SourceNone || cfg.Reestimate, BNEps, items})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func weightsPath(dir, recipe string) string {
	return filepath.Join(dir, "backbone-"+recipe[:16]+".weights")
}

var weightsMagic = []byte("PNSBONE\x01")

type weightsHeader struct {
	Recipe      string      `json:"recipe"`
	Arch        resnet.Arch `json:"arch"`
	Calibration Calibration `json:"calibration"`
}

// saveWeights writes bb atomically (temp file, fsync, rename), a SHA-256 of the contents last.
func saveWeights(path, recipe string, bb *resnet.Backbone, cal Calibration) (err error) {
	h, err := json.Marshal(weightsHeader{Recipe: recipe, Arch: bb.Arch, Calibration: cal})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	err = atomicfile.WriteFunc(path, func(f io.Writer) error {
		// The checksum covers everything before it and is written last.
		sum := sha256.New()
		w := io.MultiWriter(f, sum)
		buf := binary.LittleEndian.AppendUint64(append([]byte(nil), weightsMagic...), uint64(len(h)))
		if _, err := w.Write(append(buf, h...)); err != nil {
			return err
		}
		var b [4]byte
		for _, c := range bb.Convs {
			for _, v := range [][]float32{c.Weight, c.Bias} {
				for _, x := range v {
					binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
					if _, err := w.Write(b[:]); err != nil {
						return err
					}
				}
			}
		}
		_, err := f.Write(sum.Sum(nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	return nil
}

// errCorruptWeights is wrapped by every error about a damaged weights cache file.
var errCorruptWeights = errors.New("corrupt backbone weights cache")

// loadWeights reads weights saved under recipe; (nil, nil) when there is no such file.
func loadWeights(path, recipe string) (*resnet.Backbone, Calibration, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Calibration{}, nil
	}
	if err != nil {
		return nil, Calibration{}, fmt.Errorf("backbone: %w", err)
	}
	bad := func(what string) error {
		return fmt.Errorf("backbone: %s: %s (delete it to recalibrate): %w", path, what, errCorruptWeights)
	}
	if len(data) < len(weightsMagic)+8+sha256.Size || !bytes.Equal(data[:len(weightsMagic)], weightsMagic) {
		return nil, Calibration{}, bad("not a backbone weights file of this version")
	}
	body, want := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], want) {
		return nil, Calibration{}, bad("checksum mismatch (truncated or modified)")
	}
	body = body[len(weightsMagic):]
	hl := binary.LittleEndian.Uint64(body)
	body = body[8:]
	var h weightsHeader
	if hl > uint64(len(body)) || json.Unmarshal(body[:hl], &h) != nil {
		return nil, Calibration{}, bad("unreadable header")
	}
	if h.Recipe != recipe {
		return nil, Calibration{}, bad("made from other inputs")
	}
	body = body[hl:]
	bb := &resnet.Backbone{Arch: h.Arch}
	if err := h.Arch.Validate(); err != nil {
		return nil, Calibration{}, bad(err.Error())
	}
	for _, c := range h.Arch.Convs() {
		need := 4 * (c.WeightLen() + c.Out)
		if len(body) < need {
			return nil, Calibration{}, bad("too short for its architecture")
		}
		w := resnet.ConvWeights{Weight: make([]float32, c.WeightLen()), Bias: make([]float32, c.Out)}
		for i := range w.Weight {
			w.Weight[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
		body = body[4*len(w.Weight):]
		for i := range w.Bias {
			w.Bias[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
		body = body[4*len(w.Bias):]
		bb.Convs = append(bb.Convs, w)
	}
	if len(body) != 0 {
		return nil, Calibration{}, bad("longer than its architecture")
	}
	h.Calibration.Cached = true
	return bb, h.Calibration, bb.Check()
}
