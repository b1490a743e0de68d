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

func TestFindBeside(t *testing.T) {
	base := t.TempDir()
	set := filepath.Join(base, "chest_xray")
	if err := os.MkdirAll(filepath.Join(base, Adult), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, set)
	if d, err := FindBeside(Adult); err != nil || d != filepath.Join(base, Adult) {
		t.Errorf("FindBeside(%q) = %q, %v; want %q", Adult, d, err, filepath.Join(base, Adult))
	}
	if _, err := FindBeside(NotCXR); err == nil || !strings.Contains(err.Error(), filepath.Join(base, NotCXR)) {
		t.Errorf("FindBeside(%q) of a missing folder: %v; want an error naming it", NotCXR, err)
	}
}
