package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
)

// entry is one file to screen.
type entry struct {
	Rel  string // the file column: slash-separated path relative to the folder, or the path as listed
	Path string // where to read it
	// Listed: named in a --list, so it gets a row whatever it holds; a file met in a folder
	// that holds no image of a registered format is skipped and counted instead.
	Listed bool
	// Err, when set, is why the entry could not be listed (a folder that cannot be read):
	// it becomes the row's error.
	Err string
}

// skips counts the files left out, by reason, for the summary. File names are never
// printed (they may carry patient data); the counts are.
type skips map[string]int

const (
	skipHidden    = "hidden (name starts with a dot)"
	skipIrregular = "not a regular file (link, device, ...)"
	skipLineBreak = "a line break in the name (a row cannot hold it)"
	skipDuplicate = "listed twice"
	skipNotImage  = "not an image of a format pneumoscan reads"
)

// walkTree lists every regular, non-hidden file under root (hidden folders such as
// .snapshot are not entered), in WalkDir's lexical order, so every run and every shard sees
// the same sequence. Whether a file is an image is decided by its content when it is read
// (a DICOM file often has no extension), not here.
func walkTree(root string, sk skips) ([]entry, error) {
	var es []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if p == root {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return fmt.Errorf("%s is not a folder (use --list for a list of files)", root)
			}
			return nil
		}
		r, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		rel := filepath.ToSlash(r)
		if err != nil {
			// A folder that cannot be read is a row, so the gap is on record; the batch goes on.
			es = append(es, entry{Rel: rel + "/", Path: p, Err: "the folder could not be read: " + pathErrText(err)})
			return nil
		}
		switch {
		case strings.HasPrefix(d.Name(), "."):
			sk[skipHidden]++
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			sk[skipIrregular]++
			return nil
		case strings.ContainsAny(rel, "\r\n"):
			sk[skipLineBreak]++
			return nil
		}
		es = append(es, entry{Rel: rel, Path: p})
		return nil
	})
	return es, err
}

// readList reads a list of files, one path per line (a trailing \r is dropped, blank lines
// are ignored), each relative to the working folder or absolute. Every file listed gets a
// row, whatever it holds; a path listed twice is screened once.
func readList(r io.Reader, sk skips) ([]entry, error) {
	var es []entry
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.ContainsRune(line, '\r'):
			sk[skipLineBreak]++
			continue
		case seen[line]:
			sk[skipDuplicate]++
			continue
		}
		seen[line] = true
		es = append(es, entry{Rel: line, Path: filepath.FromSlash(line), Listed: true})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the list: %w", err)
	}
	if len(es) == 0 {
		return nil, errors.New("the list names no file")
	}
	return es, nil
}

// pathErrText is an error's text without the path a *fs.PathError repeats (the path is in
// the row's file column; messages stay free of names).
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
