// Package chestxray finds the chest X-ray data set for tests. It is not part of the
// repository: it lies beside it, at ../shared/data/chest_xray from the module root (the
// folder holding go.mod), or wherever $PNEUMOSCAN_DATA says. Tests that read it find it
// here, and say so when it is missing instead of silently checking less. The other data sets
// of ../shared/data (Adult, NotCXR) are found the same way, beside it.
package chestxray

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Env overrides where the data set is.
const Env = "PNEUMOSCAN_DATA"

// Rel is the data set's place relative to the module root.
const Rel = "../shared/data/chest_xray"

// Find returns the data set's folder (holding train/ and test/): $PNEUMOSCAN_DATA when set,
// else Rel from the module root above the working directory (a test's package folder). The
// error names the folder it looked for.
func Find() (string, error) {
	if d := os.Getenv(Env); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", Env, d, err)
		}
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(root, filepath.FromSlash(Rel))
	if _, err := os.Stat(filepath.Join(d, "train")); err != nil {
		return "", fmt.Errorf("chest X-ray data set not found at %s (%s unset): %w", d, Env, err)
	}
	return d, nil
}

// Dir returns Find's folder. When the data set is missing the test is skipped with a message
// naming the folder; when $PNEUMOSCAN_DATA is set but wrong it fails.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := Find()
	switch {
	case err == nil:
		return d
	case os.Getenv(Env) != "":
		t.Fatal(err)
	default:
		t.Skip(err)
	}
	return ""
}

// The data sets that lie beside the chest X-ray set, named by their folder.
const (
	// Adult holds adult frontal chest films from another hospital (NIH), unlabelled: for
	// measuring the shift from the training population, never for training the classifier.
	Adult = "adult_cxr"
	// NotCXR holds images that are not frontal chest films, one folder per category.
	NotCXR = "not_cxr"
)

// FindBeside returns the data set folder name (Adult, NotCXR) that lies beside the chest X-ray
// set: in the folder above $PNEUMOSCAN_DATA when set, else in ../shared/data from the module
// root. The error names the folder it looked for.
func FindBeside(name string) (string, error) {
	var d string
	if e := os.Getenv(Env); e != "" {
		d = filepath.Join(filepath.Dir(filepath.Clean(e)), name)
	} else {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		d = filepath.Join(root, filepath.FromSlash(Rel), "..", name)
	}
	if _, err := os.Stat(d); err != nil {
		return "", fmt.Errorf("data set %s not found at %s: %w", name, d, err)
	}
	return d, nil
}

// DirBeside returns FindBeside's folder, skipping the test with a message naming the folder
// when it is missing.
func DirBeside(t testing.TB, name string) string {
	t.Helper()
	d, err := FindBeside(name)
	if err != nil {
		t.Skip(err)
	}
	return d
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chestxray: no go.mod above the working directory")
		}
		dir = parent
	}
}
