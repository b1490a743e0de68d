//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockOutputs takes an exclusive lock on path (created if missing) for as long as the
// returned file stays open, so two runs never append to the same outputs (a Kubernetes pod
// replaced while the old one is still stopping, a run started twice by hand). The kernel
// drops the lock when the process ends, however it ends.
func lockOutputs(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another batchscreen is writing these results (%s is locked); wait for it, or choose another --out", path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}
