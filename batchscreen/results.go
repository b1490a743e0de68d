package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"pneumoscan/atomicfile"
)

// row is one file's result, the same in both outputs. A screened file has Probability,
// Verdict and Gate and no Error; a refused or unreadable one has Error (imagedecode's,
// filmcheck's or the gate's message for the user, or why it could not be read) and no
// Probability.
type row struct {
	File           string   `json:"file"`
	SHA256         string   `json:"sha256"` // of the file's bytes; empty when it could not be read
	Probability    *float64 `json:"probability"`
	Verdict        string   `json:"verdict"`   // model.Verdict: positive, negative, indeterminate
	Threshold      string   `json:"threshold"` // the operating point's name ...
	ThresholdValue float64  `json:"threshold_value"`
	Gate           string   `json:"gate"`       // the gate's verdict (gateColumns), or its refusal code
	Correction     string   `json:"correction"` // what was done to the film before screening it ("" for nothing)
	Population     string   `json:"population"` // inside or outside the training population ("" without a gate)
	ModelSHA256    string   `json:"model_sha256"`
	Error          string   `json:"error"`
}

// columns are the CSV header, in the order of row's fields.
var columns = []string{"file", "sha256", "probability", "verdict", "threshold", "threshold_value", "gate", "correction", "population", "model_sha256", "error"}

// key says which work a row records: this file's bytes screened by this model. A restart
// skips a file whose key is already in an output; a changed file (another sha256) is
// screened again.
func (r row) key() string { return r.File + "\x00" + r.SHA256 + "\x00" + r.ModelSHA256 }

// format is how one output file writes and reads rows. Each row is one line: the writer
// makes sure no field holds a line break (walkTree and readList leave such names out;
// messages are single-line, oneLine), so a line is a row and a crash can leave at most one
// partial line, the last.
type format struct {
	ext    string
	header []byte // the first line of a new file; nil for none
	encode func(row) ([]byte, error)
	decode func(line []byte) (row, error)
}

var csvFormat = format{
	ext:    "csv",
	header: []byte(strings.Join(columns, ",") + "\n"),
	encode: func(r row) ([]byte, error) {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		prob := ""
		if r.Probability != nil {
			prob = formatFloat(*r.Probability)
		}
		if err := w.Write([]string{r.File, r.SHA256, prob, r.Verdict, r.Threshold, formatFloat(r.ThresholdValue), r.Gate, r.Correction, r.Population, r.ModelSHA256, r.Error}); err != nil {
			return nil, err
		}
		w.Flush()
		return b.Bytes(), w.Error()
	},
	decode: func(line []byte) (row, error) {
		rd := csv.NewReader(bytes.NewReader(line))
		rd.FieldsPerRecord = len(columns)
		f, err := rd.Read()
		if err != nil {
			return row{}, err
		}
		r := row{File: f[0], SHA256: f[1], Verdict: f[3], Threshold: f[4], Gate: f[6], Correction: f[7], Population: f[8], ModelSHA256: f[9], Error: f[10]}
		if f[2] != "" {
			p, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				return row{}, fmt.Errorf("probability %q: %v", f[2], err)
			}
			r.Probability = &p
		}
		if r.ThresholdValue, err = strconv.ParseFloat(f[5], 64); err != nil {
			return row{}, fmt.Errorf("threshold_value %q: %v", f[5], err)
		}
		return r, nil
	},
}

var jsonlFormat = format{
	ext: "jsonl",
	encode: func(r row) ([]byte, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b) // Encode ends the line with \n and escapes any control character
		enc.SetEscapeHTML(false)
		err := enc.Encode(r)
		return b.Bytes(), err
	},
	decode: func(line []byte) (row, error) {
		var r row
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		err := dec.Decode(&r)
		return r, err
	},
}

// formatFloat writes the shortest decimal that reads back as the same float64, so the two
// outputs, and the rows of every shard, hold exactly the engine's value.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// output is one results file open for appending, with the keys of the rows it holds.
type output struct {
	path string
	f    *os.File
	fmt  format
	done map[string]bool // keys of the rows it held when opened; read-only during a run
	rows int             // rows it held when opened
}

// openOutput opens path for appending rows made with modelSHA at threshold, creating it
// (atomically, with its header) when missing or empty, or, with restart, replacing it. An
// existing file is read first: a partial last line, left by a crash in the middle of a
// write, is cut off (and said so on warn); a file that is not a results file, or holds
// rows of another model or operating point, is refused, unchanged. The caller holds the
// outputs' lock (lockOutputs), so no other run appends meanwhile.
func openOutput(path string, f format, modelSHA, threshold string, restart bool, warn io.Writer) (*output, error) {
	o := &output{path: path, fmt: f, done: map[string]bool{}}
	st, err := os.Stat(path)
	switch {
	case restart || errors.Is(err, os.ErrNotExist) || err == nil && st.Size() == 0:
		if err := atomicfile.Write(path, f.header); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	// O_APPEND: every write lands at the end, whole; reads still go from the start.
	file, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	end, err := o.read(file, modelSHA, threshold)
	if err == nil {
		err = o.cutPartial(file, end, warn)
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	o.f = file
	return o, nil
}

// read checks the header and every whole row, collects the rows' keys, and returns the
// offset just after the last whole line.
func (o *output) read(file *os.File, modelSHA, threshold string) (int64, error) {
	br := bufio.NewReaderSize(file, 1<<16)
	var off int64
	first := true
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return off, nil // what is left (line) has no newline: a partial row, or nothing
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", o.path, err)
		}
		off += int64(len(line))
		if first && o.fmt.header != nil {
			first = false
			if !bytes.Equal(line, o.fmt.header) {
				return 0, fmt.Errorf("%s is not a batchscreen results file (its first line is not the header %q); choose another --out, or --restart to replace it", o.path, strings.TrimSpace(string(o.fmt.header)))
			}
			continue
		}
		r, err := o.fmt.decode(line)
		if err != nil {
			return 0, fmt.Errorf("%s line %d is not a results row (%v); it was not written by batchscreen, or was edited: repair it, or --restart", o.path, n, err)
		}
		if r.ModelSHA256 != modelSHA {
			return 0, fmt.Errorf("%s holds rows of another model (sha256 %s, this one is %s): rows of two models are never mixed in one file; use another --out, or --restart to start it over with this model", o.path, short(r.ModelSHA256), short(modelSHA))
		}
		if r.Threshold != threshold {
			return 0, fmt.Errorf("%s holds rows decided at operating point %q, not %q: use another --out, or --restart to start it over", o.path, r.Threshold, threshold)
		}
		o.done[r.key()] = true
		o.rows++
	}
}

// cutPartial truncates the file to end when something follows it (a row cut short by a
// kill), and says so.
func (o *output) cutPartial(file *os.File, end int64, warn io.Writer) error {
	st, err := file.Stat()
	if err != nil {
		return err
	}
	if st.Size() == end {
		return nil
	}
	if err := file.Truncate(end); err != nil {
		return fmt.Errorf("%s: removing a partial last row: %w", o.path, err)
	}
	if err := file.Sync(); err != nil {
		return err
	}
	fmt.Fprintf(warn, "batchscreen: %s: removed a partial last row (%d bytes) left by an interrupted run; that file is screened again\n", o.path, st.Size()-end)
	return nil
}

// append writes r as one line with a single write and syncs it to disk before returning,
// so a row is either wholly in the file or (after a kill mid-write) a partial last line
// that the next start removes.
func (o *output) append(r row) error {
	line, err := o.fmt.encode(r)
	if err != nil {
		return err
	}
	if bytes.Count(line, []byte{'\n'}) != 1 || line[len(line)-1] != '\n' {
		return fmt.Errorf("internal error: a %s row is not one line", o.fmt.ext)
	}
	if _, err := o.f.Write(line); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	// done is left as it was read: the workers read it concurrently, and within one run
	// every entry has its own key (paths are unique), so no key can come twice.
	return nil
}

func (o *output) close() error { return o.f.Close() }

// short is a sha256's first 12 hex digits, enough to tell two models apart in a message.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "..."
	}
	return sha
}

// oneLine replaces line breaks and other control characters in a message by spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// readRows reads every row of a results file (for the tests and for checking a run).
func readRows(path string, f format) ([]row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(b, []byte{'\n'})
	if f.header != nil {
		if len(lines) == 0 || !bytes.Equal(lines[0], f.header) {
			return nil, fmt.Errorf("%s: no header", path)
		}
		lines = lines[1:]
	}
	var rows []row
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		r, err := f.decode(l)
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %v", path, i+1, err)
		}
		rows = append(rows, r)
	}
	return slices.Clip(rows), nil
}
