// Package atomicfile writes files so that a crash or a concurrent reader never sees a
// half-written file under the final name: the bytes go to a temporary file in the same
// folder, which is synced and renamed over the target, and the folder is synced so the
// rename itself survives a crash. Model files, checkpoints, caches, split files, reports and
// the generated site all go through it.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write writes data to path atomically, with mode 0644.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc writes what fn writes to path atomically, with mode 0644, through a buffer.
// Nothing is left behind when fn or any step fails.
func WriteFunc(path string, fn func(w io.Writer) error) error {
	return WriteMode(path, 0o644, fn)
}

// WriteMode is WriteFunc with the file's mode. The temporary file has that mode before any
// byte is written, so a private key is never readable by others, not even half-written.
func WriteMode(path string, mode os.FileMode, fn func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file 0600; set the mode asked for.
	if err = f.Chmod(mode); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fn(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
