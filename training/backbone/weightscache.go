package backbone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"pneumoscan/dataset"
	"pneumoscan/resnet"
	"pneumoscan/training/checksummed"
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

// weightsFormat is the cache file: magic, JSON header, each conv's weight then bias as
// float32 little-endian, SHA-256 (package checksummed).
var weightsFormat = checksummed.Format{Magic: []byte("PNSBONE\x01"), Corrupt: errCorruptWeights}

type weightsHeader struct {
	Recipe      string      `json:"recipe"`
	Arch        resnet.Arch `json:"arch"`
	Calibration Calibration `json:"calibration"`
}

// saveWeights writes bb atomically (temp file, fsync, rename), a SHA-256 of the contents last.
func saveWeights(path, recipe string, bb *resnet.Backbone, cal Calibration) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	err := weightsFormat.Write(path, weightsHeader{Recipe: recipe, Arch: bb.Arch, Calibration: cal}, func(w io.Writer) error {
		for _, c := range bb.Convs {
			for _, v := range [][]float32{c.Weight, c.Bias} {
				if err := binary.Write(w, binary.LittleEndian, v); err != nil {
					return err
				}
			}
		}
		return nil
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
	var h weightsHeader
	var bb *resnet.Backbone
	err := weightsFormat.Read(path, &h, func(r io.Reader, n int64) error {
		if h.Recipe != recipe {
			return errors.New("made from other inputs")
		}
		if err := h.Arch.Validate(); err != nil {
			return err
		}
		var need int64
		for _, c := range h.Arch.Convs() {
			need += 4 * int64(c.WeightLen()+c.Out)
		}
		if n != need {
			return fmt.Errorf("%d bytes of weights, its architecture has %d", n, need)
		}
		bb = &resnet.Backbone{Arch: h.Arch}
		for _, c := range h.Arch.Convs() {
			w := resnet.ConvWeights{Weight: make([]float32, c.WeightLen()), Bias: make([]float32, c.Out)}
			if err := binary.Read(r, binary.LittleEndian, w.Weight); err != nil {
				return err
			}
			if err := binary.Read(r, binary.LittleEndian, w.Bias); err != nil {
				return err
			}
			bb.Convs = append(bb.Convs, w)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Calibration{}, nil
	}
	if errors.Is(err, errCorruptWeights) {
		return nil, Calibration{}, fmt.Errorf("backbone: %w (delete it to recalibrate)", err)
	}
	if err != nil {
		return nil, Calibration{}, fmt.Errorf("backbone: %w", err)
	}
	h.Calibration.Cached = true
	return bb, h.Calibration, bb.Check()
}
