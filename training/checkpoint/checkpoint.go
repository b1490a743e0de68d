// Package checkpoint saves and loads a head training run's state: weights,
// Adam moments, the random stream, the epoch, the configuration and the
// checksums of the inputs the run was made from.
//
// A file is a header line, the hex SHA-256 of the payload on a second line,
// then the payload (gob). It is written through a synced temporary file and a
// rename, so a crash leaves the previous checkpoint, and a file whose payload
// does not match its checksum is refused.
package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"pneumoscan/atomicfile"
	"strings"

	"pneumoscan/training/head"
)

// Format is the version of the file layout; Load refuses others.
const Format = 1

const magic = "pneumoscan-checkpoint"

// ErrCorrupt is wrapped by every refusal of a damaged file.
var ErrCorrupt = errors.New("checkpoint is corrupt")

// Checkpoint is one saved run.
type Checkpoint struct {
	Config head.Config
	State  *head.State
	// Inputs maps a name ("split", "features/train", ...) to the hex SHA-256
	// of the file the run read, so a resume can refuse changed inputs.
	Inputs map[string]string
	// Run holds the caller's own settings (JSON), e.g. the command's flags.
	Run []byte
	// Extra is further state of the caller's own (gob), covered by the checksum like the
	// rest: the fine-tuned stages' weights and Adam moments (package finetune). A checkpoint
	// with Extra may have no head State.
	Extra []byte
}

// Save writes c to path atomically.
func Save(path string, c *Checkpoint) error {
	if c.State == nil && len(c.Extra) == 0 {
		return errors.New("checkpoint: no state to save")
	}
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		return fmt.Errorf("checkpoint: encoding: %w", err)
	}
	sum := sha256.Sum256(payload.Bytes())
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s %d\n%s\n", magic, Format, hex.EncodeToString(sum[:]))
	out.Write(payload.Bytes())
	return atomicfile.Write(path, out.Bytes())
}

// Load reads and verifies a checkpoint.
func Load(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	r := bufio.NewReader(bytes.NewReader(data))
	header, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(header, magic+" ") {
		return nil, fmt.Errorf("checkpoint %s: not a pneumoscan checkpoint: %w", path, ErrCorrupt)
	}
	var format int
	if _, err := fmt.Sscanf(strings.TrimPrefix(header, magic+" "), "%d\n", &format); err != nil {
		return nil, fmt.Errorf("checkpoint %s: bad header %q: %w", path, strings.TrimSpace(header), ErrCorrupt)
	}
	if format != Format {
		return nil, fmt.Errorf("checkpoint %s: format %d is not supported (want %d)", path, format, Format)
	}
	want, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: truncated header: %w", path, ErrCorrupt)
	}
	payload, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	if got := hex.EncodeToString(sum[:]); got != strings.TrimSpace(want) {
		return nil, fmt.Errorf("checkpoint %s: checksum mismatch (file damaged or truncated): %w", path, ErrCorrupt)
	}
	c := &Checkpoint{}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: decoding: %v: %w", path, err, ErrCorrupt)
	}
	if c.State == nil && len(c.Extra) == 0 {
		return nil, fmt.Errorf("checkpoint %s: no state: %w", path, ErrCorrupt)
	}
	if c.State != nil {
		if err := c.State.Check(c.Config); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	return c, nil
}

// FileSHA256 returns the hex SHA-256 of a file's content, for Inputs.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckInputs reports the first input whose current checksum differs from
// the one recorded in c.
func (c *Checkpoint) CheckInputs(current map[string]string) error {
	for name, want := range c.Inputs {
		got, ok := current[name]
		if !ok {
			return fmt.Errorf("checkpoint: input %q of the saved run is not given now", name)
		}
		if got != want {
			return fmt.Errorf("checkpoint: input %q changed since the run was saved (sha256 %.12s, was %.12s); resuming would not continue the same run", name, got, want)
		}
	}
	return nil
}
