package checksummed

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errBad = errors.New("bad test file")

var format = Format{Magic: []byte("PNSTEST\x01"), Corrupt: errBad}

type header struct {
	N int `json:"n"`
}

func read(path string) (header, string, error) {
	var h header
	var body []byte
	err := format.Read(path, &h, func(r io.Reader, n int64) error {
		var err error
		body, err = io.ReadAll(r)
		return err
	})
	return h, string(body), err
}

func TestRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	if err := format.Write(path, header{N: 5}, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h, body, err := read(path)
	if err != nil || h.N != 5 || body != "hello" {
		t.Fatalf("read back %+v %q %v", h, body, err)
	}
	good, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(good), "PNSTEST\x01") || len(good) != 8+8+len(`{"n":5}`)+5+32 {
		t.Errorf("layout: %q", good)
	}
	flip := func(i int) []byte { b := append([]byte(nil), good...); b[i] ^= 1; return b }
	for name, c := range map[string]struct {
		data []byte
		why  string
	}{
		"payload bit":  {flip(len(good) - 33), "checksum mismatch"},
		"checksum bit": {flip(len(good) - 1), "checksum mismatch"},
		"header":       {flip(17), "header"},
		"truncated":    {good[:len(good)-3], "checksum mismatch"},
		"too short":    {good[:20], "too short"},
		"version":      {flip(7), "format version 0, this program reads 1"},
		"foreign":      {append([]byte("GIF89a.."), good[8:]...), "not this kind of file"},
		"huge header":  {append(append([]byte(nil), good[:8]...), append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, good[16:]...)...), "exceeds the file"},
	} {
		p := filepath.Join(dir, "bad.bin")
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := read(p)
		if !errors.Is(err, errBad) || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file, saying %q and wrapping Corrupt", name, err, c.why)
		}
	}
	// A payload reader that stops early, or fails, refuses the file.
	if err := format.Read(path, &header{}, func(io.Reader, int64) error { return nil }); !errors.Is(err, errBad) || !strings.Contains(err.Error(), "left over") {
		t.Errorf("unread payload: %v", err)
	}
	if err := format.Read(path, &header{}, func(io.Reader, int64) error { return errors.New("no") }); !errors.Is(err, errBad) {
		t.Errorf("failing payload: %v", err)
	}
	if _, _, err := read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) || errors.Is(err, errBad) {
		t.Errorf("missing file: %v", err)
	}
	// A failing writer leaves nothing behind.
	if err := format.Write(filepath.Join(dir, "y.bin"), header{}, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Error("a failing payload writer must be an error")
	}
	if _, err := os.Stat(filepath.Join(dir, "y.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed write left %v", err)
	}
}
