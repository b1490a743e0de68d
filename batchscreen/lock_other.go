//go:build !unix

package main

import "os"

// lockOutputs opens the lock file; on systems without flock it locks nothing, and running
// two batchscreens on the same outputs at once is the user's to avoid.
func lockOutputs(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
