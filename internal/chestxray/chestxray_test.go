package chestxray

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	t.Setenv(Env, filepath.Join(t.TempDir(), "missing"))
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Find with a wrong %s: %v", Env, err)
	}
	dir := t.TempDir()
	t.Setenv(Env, dir)
	if d, err := Find(); err != nil || d != dir {
		t.Errorf("Find = %q, %v; want %q", d, err, dir)
	}
	t.Setenv(Env, "")
	if d, err := Find(); err != nil {
		if !strings.Contains(err.Error(), filepath.Join(root, filepath.FromSlash(Rel))) {
			t.Errorf("error %q does not name the folder", err)
		}
	} else if d != filepath.Join(root, filepath.FromSlash(Rel)) {
		t.Errorf("Find = %q", d)
	}
}
