//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLock: a second run on the same outputs while one holds them is refused.
func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "results.lock")
	f, err := lockOutputs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockOutputs(p); err == nil || !strings.Contains(err.Error(), "another batchscreen") {
		t.Errorf("second lock: %v", err)
	}
	f.Close()
	g, err := lockOutputs(p)
	if err != nil {
		t.Errorf("lock after the first was released: %v", err)
	} else {
		g.Close()
	}
}
