package web

import (
	"slices"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// screenable drops the files of a picked or dropped folder that are no film of anyone's:
// hidden files (".DS_Store", "._x.dcm" resource forks) and the thumbnail caches and settings
// that file managers leave ("Thumbs.db", "desktop.ini"). Anything else is screened, whatever
// its extension: DICOM files often have none, and the worker refuses what is no image.
func screenable(files []app.Value) []app.Value {
	out := files[:0:0]
	for _, f := range files {
		if !systemFile(f.Get("name").String()) {
			out = append(out, f)
		}
	}
	return out
}

func systemFile(name string) bool {
	switch strings.ToLower(name) {
	case "thumbs.db", "desktop.ini", "ehthumbs.db":
		return true
	}
	return strings.HasPrefix(name, ".")
}

// droppedFiles collects the files of a drop: dropped files as they are, dropped folders
// walked with their subfolders (FileSystemEntry, webkitGetAsEntry). done gets them once, in
// path order, whatever order the browser's callbacks came in. The entries must be taken
// while the drop event runs: the DataTransfer is emptied after it.
func droppedFiles(dt app.Value, done func([]app.Value)) {
	w := &folderWalk{done: done}
	items := dt.Get("items")
	if !items.Truthy() {
		w.files = append(w.files, pathFile{}.from(fileList(dt.Get("files")))...)
		w.finish()
		return
	}
	var entries []app.Value
	for i := 0; i < items.Length(); i++ {
		it := items.Index(i)
		if it.Get("kind").String() != "file" {
			continue
		}
		if it.Get("webkitGetAsEntry").Truthy() {
			if e := it.Call("webkitGetAsEntry"); e.Truthy() {
				entries = append(entries, e)
				continue
			}
		}
		if f := it.Call("getAsFile"); f.Truthy() {
			w.files = append(w.files, pathFile{path: f.Get("name").String(), file: f})
		}
	}
	w.pending = len(entries)
	for _, e := range entries {
		w.visit(e, false)
	}
	if len(entries) == 0 {
		w.finish()
	}
}

type pathFile struct {
	path string
	file app.Value
}

func (pathFile) from(files []app.Value) []pathFile {
	out := make([]pathFile, 0, len(files))
	for _, f := range files {
		out = append(out, pathFile{path: f.Get("name").String(), file: f})
	}
	return out
}

// folderWalk counts the entries still being read; the last one to finish hands the files on.
type folderWalk struct {
	files   []pathFile
	pending int
	done    func([]app.Value)
}

// visit reads one entry (a file, or a folder and everything in it), then counts it done.
// inFolder: the entry came out of a dropped folder, so its system files are skipped.
func (w *folderWalk) visit(e app.Value, inFolder bool) {
	if e.Get("isFile").Bool() {
		if inFolder && systemFile(e.Get("name").String()) {
			w.entryDone()
			return
		}
		path := e.Get("fullPath").String()
		w.call(e, "file", func(args []app.Value) {
			w.files = append(w.files, pathFile{path: path, file: args[0]})
			w.entryDone()
		})
		return
	}
	reader := e.Call("createReader")
	var next func()
	// readEntries gives a folder's entries in chunks (Chromium: 100 at a time) until it
	// gives an empty one.
	next = func() {
		w.call(reader, "readEntries", func(args []app.Value) {
			batch := args[0]
			if batch.Length() == 0 {
				w.entryDone()
				return
			}
			w.pending += batch.Length()
			for i := 0; i < batch.Length(); i++ {
				w.visit(batch.Index(i), true)
			}
			next()
		})
	}
	next()
}

// call invokes v.method(onOK, onError) with one-shot callbacks; an entry that cannot be
// read is skipped (it is counted done) rather than stalling the whole drop.
func (w *folderWalk) call(v app.Value, method string, ok func([]app.Value)) {
	var onOK, onErr app.Func
	release := func() { onOK.Release(); onErr.Release() }
	onOK = app.FuncOf(func(this app.Value, args []app.Value) any {
		release()
		ok(args)
		return nil
	})
	onErr = app.FuncOf(func(this app.Value, args []app.Value) any {
		release()
		app.Log("a dropped entry could not be read:", errorText(args[0]))
		w.entryDone()
		return nil
	})
	v.Call(method, onOK, onErr)
}

func (w *folderWalk) entryDone() {
	w.pending--
	if w.pending == 0 {
		w.finish()
	}
}

func (w *folderWalk) finish() {
	slices.SortStableFunc(w.files, func(a, b pathFile) int { return strings.Compare(a.path, b.path) })
	files := make([]app.Value, 0, len(w.files))
	for _, f := range w.files {
		files = append(files, f.file)
	}
	w.done(files)
}
