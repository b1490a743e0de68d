// Package checksummed writes and reads the trainers' cache files (pooled features,
// calibrated backbone weights, frozen activations): a self-describing container with a
// checksum, written atomically. The layout is
//
//	magic | uint64 little-endian header length | JSON header | payload | SHA-256
//
// where the SHA-256 covers every byte before it. The magic names the kind of file and its
// format version (by convention its last byte); a reader refuses any other. This is the
// layout the three caches had each written by hand before they shared this package, so
// existing cache files still load.
package checksummed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"pneumoscan/atomicfile"
)

// Format is one kind of file.
type Format struct {
	// Magic starts every file of this kind; change its last byte for a new version.
	Magic []byte
	// Corrupt is wrapped by every refusal of a damaged or foreign file, so callers can
	// tell it from a missing file (os.ErrNotExist) or an I/O error.
	Corrupt error
}

const bufSize = 1 << 20

// Write writes path atomically (atomicfile): the magic, header as JSON, what payload
// writes (through a buffer, so small writes are cheap), and the checksum.
func (f Format) Write(path string, header any, payload func(w io.Writer) error) error {
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	return atomicfile.WriteFunc(path, func(file io.Writer) error {
		sum := sha256.New()
		w := bufio.NewWriterSize(io.MultiWriter(file, sum), bufSize)
		w.Write(f.Magic)
		w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(h))))
		w.Write(h)
		if err := payload(w); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		_, err := file.Write(sum.Sum(nil))
		return err
	})
}

// Read reads a file written by Write in one streaming pass: it checks the magic, decodes the
// JSON header into header, hands payload a reader of the n payload bytes, and verifies the
// checksum last. An error from payload is a refusal of the file, as are a wrong magic or
// length, an unreadable header, payload bytes left unread and a checksum mismatch: each is
// "path: why" wrapping f.Corrupt. The header and payload are not to be trusted unless Read
// returns nil. Opening errors are returned as they are.
func (f Format) Read(path string, header any, payload func(r io.Reader, n int64) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(format, args...), f.Corrupt)
	}
	size, m := st.Size(), len(f.Magic)
	if size < int64(m+8+sha256.Size) {
		return bad("too short (%d bytes)", size)
	}
	sum := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(io.LimitReader(file, size-sha256.Size), sum), bufSize)
	head := make([]byte, m+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return bad("%v", err)
	}
	if !bytes.Equal(head[:m], f.Magic) {
		if m > 0 && bytes.Equal(head[:m-1], f.Magic[:m-1]) {
			return bad("format version %d, this program reads %d", head[m-1], f.Magic[m-1])
		}
		return bad("not this kind of file (starts %q, want %q)", head[:m], f.Magic)
	}
	hlen := binary.LittleEndian.Uint64(head[m:])
	rest := size - sha256.Size - int64(len(head))
	if hlen > uint64(rest) {
		return bad("header length %d exceeds the file", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return bad("%v", err)
	}
	if err := json.Unmarshal(hb, header); err != nil {
		return bad("header: %v", err)
	}
	n := rest - int64(hlen)
	body := &io.LimitedReader{R: r, N: n}
	if err := payload(body, n); err != nil {
		return bad("%v", err)
	}
	if body.N != 0 {
		return bad("%d payload bytes left over", body.N)
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(file, want); err != nil {
		return bad("%v", err)
	}
	if !bytes.Equal(sum.Sum(nil), want) {
		return bad("checksum mismatch (truncated or modified)")
	}
	return nil
}
