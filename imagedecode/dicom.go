package imagedecode

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"strconv"
	"strings"
)

// DICOM (PS3.10 files: a 128-byte preamble, "DICM", then the file meta group).
//
// The data set reader is this file's own, not github.com/suyashkumar/dicom's (v1.0.7): that
// library (its tag dictionary, and golang.org/x/text's CJK character set tables) added 3.1 MB to
// the browser worker (+0.7 MB gzipped, past the worker's 2.4 MB budget) for the 18 attributes
// read here; it also neither inflates deflated data sets nor decodes RLE, and allocates each
// value's declared length before reading it. The tests check every decoded fixture against
// dcmtk's own rendering (tools/make_dicom_fixtures.sh).
//
// Only the attributes in wantedTags are kept, as slices of the file; patient, study, date,
// institution and accession attributes are stepped over unread, so they cannot reach an error,
// a log line or Info.
var dicomFormat = Format{
	Name: "DICOM",
	// Archives also hold DICOM files with no extension at all: Decode, by content, reads them;
	// a lister that goes by name (Extensions) misses them.
	Extensions: []string{".dcm", ".dicom"},
	Match:      func(data []byte) bool { return len(data) >= 132 && string(data[128:132]) == "DICM" },
	Config:     dicomConfig,
	Decode:     dicomDecode,
}

// Transfer syntaxes (PS3.5 Section 10 and Annex A).
const (
	tsImplicitLE   = "1.2.840.10008.1.2"
	tsExplicitLE   = "1.2.840.10008.1.2.1"
	tsDeflatedLE   = "1.2.840.10008.1.2.1.99"
	tsExplicitBE   = "1.2.840.10008.1.2.2"
	tsJPEGBaseline = "1.2.840.10008.1.2.4.50"
	tsJPEGLossless = "1.2.840.10008.1.2.4.57" // process 14, any predictor
	tsJPEGSV1      = "1.2.840.10008.1.2.4.70" // process 14, predictor (selection value) 1
	tsRLE          = "1.2.840.10008.1.2.5"
)

// maxInflated bounds a deflated data set's inflated size (a 50-megapixel 16-bit image is 100 MB).
const maxInflated = 2*MaxPixels + 16<<20

var (
	tagRows          = mkTag(0x0028, 0x0010)
	tagColumns       = mkTag(0x0028, 0x0011)
	tagSamples       = mkTag(0x0028, 0x0002)
	tagPhotometric   = mkTag(0x0028, 0x0004)
	tagFrames        = mkTag(0x0028, 0x0008)
	tagBitsAllocated = mkTag(0x0028, 0x0100)
	tagBitsStored    = mkTag(0x0028, 0x0101)
	tagHighBit       = mkTag(0x0028, 0x0102)
	tagPixelRep      = mkTag(0x0028, 0x0103)
	tagWindowCenter  = mkTag(0x0028, 0x1050)
	tagWindowWidth   = mkTag(0x0028, 0x1051)
	tagInterceptTag  = mkTag(0x0028, 0x1052)
	tagSlope         = mkTag(0x0028, 0x1053)
	tagPixelSpacing  = mkTag(0x0028, 0x0030)
	tagImagerSpacing = mkTag(0x0018, 0x1164)
	tagModality      = mkTag(0x0008, 0x0060)
	tagViewPosition  = mkTag(0x0018, 0x5101)
	tagBodyPart      = mkTag(0x0018, 0x0015)
	tagPixelData     = mkTag(0x7fe0, 0x0010)
)

// wantedTags is every attribute this package keeps from a data set; nothing else is stored.
var wantedTags = map[tag]bool{
	tagRows: true, tagColumns: true, tagSamples: true, tagPhotometric: true, tagFrames: true,
	tagBitsAllocated: true, tagBitsStored: true, tagHighBit: true, tagPixelRep: true,
	tagWindowCenter: true, tagWindowWidth: true, tagInterceptTag: true, tagSlope: true,
	tagPixelSpacing: true, tagImagerSpacing: true, tagModality: true, tagViewPosition: true, tagBodyPart: true,
}

// dicomAttrs is everything this package reads from a DICOM data set.
type dicomAttrs struct {
	ts                              string
	rows, cols, samples, frames     int
	photometric                     string
	bitsAllocated, bitsStored, high int
	signed                          bool
	slope, intercept                float64
	center, width                   float64
	hasWindow                       bool
	info                            Info
}

// dicomFile is a parsed data set: its attributes and the elements they came from.
type dicomFile struct {
	attrs dicomAttrs
	ds    *dataSet
}

func dicomConfig(data []byte) (image.Config, error) {
	f, err := parseDICOM(data)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{Width: f.attrs.cols, Height: f.attrs.rows}, nil
}

func dicomDecode(data []byte) (image.Image, Info, error) {
	f, err := parseDICOM(data)
	if err != nil {
		return nil, Info{}, err
	}
	img, err := f.image()
	if err != nil {
		return nil, Info{}, err
	}
	return img, f.attrs.info, nil
}

// parseDICOM parses data and checks, from attributes alone, that it is a decodable chest
// radiograph.
func parseDICOM(data []byte) (*dicomFile, error) {
	ts, metaEnd, err := readMeta(data)
	if err != nil {
		return nil, err
	}
	if err := checkTransferSyntax(ts); err != nil {
		return nil, err
	}
	body := data[metaEnd:]
	if ts == tsDeflatedLE {
		// The data set after the meta group is one raw deflate stream (PS3.5 A.5), explicit VR
		// little endian once inflated.
		inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(body)), maxInflated+1))
		if err != nil {
			return nil, fmt.Errorf("inflating the data set: %w", err)
		}
		if len(inflated) > maxInflated {
			return nil, &Error{Kind: TooLarge, Message: "The DICOM file is too large once decompressed."}
		}
		body = inflated
	}
	r := dsReader{data: body, implicit: ts == tsImplicitLE, bo: binary.LittleEndian}
	if ts == tsExplicitBE {
		r.bo = binary.BigEndian
	}
	ds, err := r.read()
	if err != nil {
		return nil, err
	}
	a, err := readAttrs(ds, ts)
	if err != nil {
		return nil, err
	}
	return &dicomFile{attrs: a, ds: ds}, nil
}

// readMeta reads the transfer syntax UID from the file meta group (always explicit VR little
// endian, PS3.10 7.1) and returns where the group ends.
func readMeta(data []byte) (ts string, end int, err error) {
	p := 132
	for p+8 <= len(data) && binary.LittleEndian.Uint16(data[p:]) == 0x0002 {
		elem := binary.LittleEndian.Uint16(data[p+2:])
		vr := string(data[p+4 : p+6])
		var n, hdr int
		if longVR(vr) {
			if p+12 > len(data) {
				return "", 0, errors.New("truncated file meta group")
			}
			n, hdr = int(binary.LittleEndian.Uint32(data[p+8:])), 12
		} else {
			n, hdr = int(binary.LittleEndian.Uint16(data[p+6:])), 8
		}
		if n < 0 || p+hdr+n > len(data) {
			return "", 0, errors.New("truncated file meta group")
		}
		if elem == 0x0010 {
			ts = strings.TrimRight(string(data[p+hdr:p+hdr+n]), " \x00")
		}
		p += hdr + n
	}
	if ts == "" {
		return "", 0, errors.New("no transfer syntax in the file meta group")
	}
	return ts, p, nil
}

// longVR reports whether an explicit VR has a 4-byte length (PS3.5 7.1.2).
func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// transferSyntaxNames names the transfer syntaxes a refusal may mention (PS3.6 Annex A).
var transferSyntaxNames = map[string]string{
	"1.2.840.10008.1.2.4.51":  "JPEG Extended (Process 2 & 4)",
	"1.2.840.10008.1.2.4.80":  "JPEG-LS Lossless",
	"1.2.840.10008.1.2.4.81":  "JPEG-LS Lossy (Near-Lossless)",
	"1.2.840.10008.1.2.4.90":  "JPEG 2000 (Lossless Only)",
	"1.2.840.10008.1.2.4.91":  "JPEG 2000",
	"1.2.840.10008.1.2.4.92":  "JPEG 2000 Part 2 Multi-component (Lossless Only)",
	"1.2.840.10008.1.2.4.93":  "JPEG 2000 Part 2 Multi-component",
	"1.2.840.10008.1.2.4.94":  "JPIP Referenced",
	"1.2.840.10008.1.2.4.95":  "JPIP Referenced Deflate",
	"1.2.840.10008.1.2.4.100": "MPEG2 Main Profile / Main Level",
	"1.2.840.10008.1.2.4.101": "MPEG2 Main Profile / High Level",
	"1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 (Lossless Only)",
	"1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)",
	"1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
	"1.2.840.10008.1.2.1.98":  "Encapsulated Uncompressed Explicit VR Little Endian",
	"1.2.840.10008.1.2.4.52":  "JPEG Extended (Process 3 & 5)",
	"1.2.840.10008.1.2.4.53":  "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8)",
	"1.2.840.10008.1.2.4.55":  "JPEG Full Progression, Non-Hierarchical (Process 10 & 12)",
}

// supportedTransferSyntax reports whether this decoder reads pixel data stored as ts.
func supportedTransferSyntax(ts string) bool {
	switch ts {
	case tsImplicitLE, tsExplicitLE, tsDeflatedLE, tsExplicitBE, tsJPEGBaseline, tsJPEGLossless, tsJPEGSV1, tsRLE:
		return true
	}
	return false
}

// transferSyntaxName is the registered UID's name, with the UID, for a refusal. A UID this
// decoder does not know is never echoed: the field is the file's own text and may hold anything, a patient's
// name or birth date included (the fuzzer planted one there).
func transferSyntaxName(ts string) string {
	if name, ok := transferSyntaxNames[ts]; ok {
		return fmt.Sprintf("%s (%s)", name, ts)
	}
	return unknownTransferSyntax
}

// unknownTransferSyntax stands for a transfer syntax UID that is not a registered one.
const unknownTransferSyntax = "(an unregistered UID)"

func checkTransferSyntax(ts string) error {
	if supportedTransferSyntax(ts) {
		return nil
	}
	return &Error{Kind: Unsupported, Message: fmt.Sprintf(
		"DICOM transfer syntax %s is not supported yet; export the image uncompressed, as baseline or lossless JPEG, or as RLE.",
		transferSyntaxName(ts))}
}

// readAttrs reads the image attributes and refuses, from them alone, what is not a decodable
// frontal chest radiograph.
func readAttrs(ds *dataSet, ts string) (dicomAttrs, error) {
	a := dicomAttrs{ts: ts, samples: 1, frames: 1, slope: 1}
	a.info.TransferSyntax = ts // a supported one: checkTransferSyntax came first
	a.info.Modality = strings.ToUpper(printable(dsString(ds, tagModality), 16))
	a.info.ViewPosition = strings.ToUpper(printable(dsString(ds, tagViewPosition), 16))
	a.info.BodyPart = strings.ToUpper(printable(dsString(ds, tagBodyPart), 16))
	if err := checkChest(a.info); err != nil {
		return a, err
	}
	var ok bool
	if a.rows, ok = dsUint16(ds, tagRows); !ok {
		return a, errors.New("no Rows")
	}
	if a.cols, ok = dsUint16(ds, tagColumns); !ok {
		return a, errors.New("no Columns")
	}
	if v, ok := dsUint16(ds, tagSamples); ok {
		a.samples = v
	}
	if v, ok := dsInt(ds, tagFrames); ok && v > 0 {
		a.frames = v
	}
	a.photometric = strings.ToUpper(printable(dsString(ds, tagPhotometric), 16))
	if a.photometric == "" {
		a.photometric = "MONOCHROME2"
	}
	if a.bitsAllocated, ok = dsUint16(ds, tagBitsAllocated); !ok {
		return a, errors.New("no BitsAllocated")
	}
	if a.bitsStored, ok = dsUint16(ds, tagBitsStored); !ok {
		a.bitsStored = a.bitsAllocated
	}
	if a.high, ok = dsUint16(ds, tagHighBit); !ok {
		a.high = a.bitsStored - 1
	}
	if v, ok := dsUint16(ds, tagPixelRep); ok {
		a.signed = v == 1
	}
	if v, ok := dsFloats(ds, tagSlope); ok && v[0] != 0 {
		a.slope = v[0]
	}
	if v, ok := dsFloats(ds, tagInterceptTag); ok {
		a.intercept = v[0]
	}
	c, okc := dsFloats(ds, tagWindowCenter)
	w, okw := dsFloats(ds, tagWindowWidth)
	if okc && okw && w[0] >= 1 {
		a.center, a.width, a.hasWindow = c[0], w[0], true
	}
	sp, ok := dsFloats(ds, tagPixelSpacing)
	if !ok || len(sp) < 2 {
		sp, ok = dsFloats(ds, tagImagerSpacing)
	}
	if ok && len(sp) >= 2 && sp[0] > 0 && sp[1] > 0 {
		a.info.PixelSpacing = [2]float64{sp[0], sp[1]}
	}

	mono := a.photometric == "MONOCHROME1" || a.photometric == "MONOCHROME2"
	switch {
	case a.ts == tsJPEGBaseline && a.samples == 3:
		// Colour JPEG: decoded as such; the chroma check decides.
	case a.samples != 1 || !mono:
		return a, &Error{Kind: Unsupported, Message: fmt.Sprintf(
			"This DICOM file holds %s pixel data; pneumoscan reads grayscale (MONOCHROME1 or MONOCHROME2) radiographs.",
			printable(a.photometric, 16))}
	}
	if a.bitsAllocated != 8 && a.bitsAllocated != 16 {
		return a, &Error{Kind: Unsupported, Message: fmt.Sprintf(
			"DICOM images with %d bits allocated per sample are not supported; pneumoscan reads 8- and 16-bit images.", a.bitsAllocated)}
	}
	if a.bitsStored < 1 || a.bitsStored > a.bitsAllocated || a.high < a.bitsStored-1 || a.high >= a.bitsAllocated {
		return a, fmt.Errorf("inconsistent BitsStored %d, HighBit %d, BitsAllocated %d", a.bitsStored, a.high, a.bitsAllocated)
	}
	return a, nil
}

// checkChest refuses what the file says is not a frontal chest radiograph. A missing attribute
// is not a refusal: many exported films carry none of them.
func checkChest(in Info) error {
	switch in.Modality {
	case "", "CR", "DX", "DR", "RG", "OT", "SC", "XC":
		// Computed/digital radiography, and the generic secondary-capture kinds a scanned or
		// converted film is often given.
	default:
		return &Error{Kind: NotChestXray, Message: fmt.Sprintf(
			"This DICOM file is %s, not a chest radiograph.", modalityPhrase(in.Modality))}
	}
	switch in.ViewPosition {
	case "LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LLO", "RLO":
		return &Error{Kind: NotChestXray, Message: "This DICOM file is a lateral view; pneumoscan screens frontal (PA/AP) films."}
	}
	switch in.BodyPart {
	case "", "CHEST", "THORAX", "LUNG", "CHEST_TO_ABDOMEN", "CHESTABDOMEN", "TORSO", "WHOLEBODY":
	default:
		return &Error{Kind: NotChestXray, Message: fmt.Sprintf(
			"This DICOM file is an image of the %s, not of the chest.", strings.ToLower(strings.ReplaceAll(in.BodyPart, "_", " ")))}
	}
	return nil
}

func modalityPhrase(m string) string {
	switch m {
	case "CT":
		return "a CT image"
	case "MR":
		return "an MR image"
	case "US":
		return "an ultrasound image"
	case "MG":
		return "a mammogram"
	case "NM":
		return "a nuclear medicine image"
	case "PT":
		return "a PET image"
	case "XA", "RF":
		return "a fluoroscopy or angiography image"
	}
	return fmt.Sprintf("a %s image", m)
}

// printable keeps at most n characters of s, and only ASCII letters, digits, '.', '_', '-' and
// spaces: what a code string or UID can hold, nothing a crafted file could smuggle into a page.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if b.Len() >= n {
			break
		}
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._- ", r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dataSet holds the top-level elements this package reads (wanted), as slices of the file, and
// the pixel data: native bytes, or the fragments of encapsulated data after the offset table.
type dataSet struct {
	bo        binary.ByteOrder
	elems     map[tag]dsElem
	pixels    []byte
	fragments [][]byte
	encaps    bool
}

type tag uint32

func mkTag(group, elem uint16) tag { return tag(group)<<16 | tag(elem) }

type dsElem struct {
	vr    string // "" in implicit VR
	value []byte
}

// dsReader walks a data set's elements (PS3.5 7), checking every length against the data
// before using it, so a damaged or forged file fails instead of allocating or reading past its end.
type dsReader struct {
	data     []byte
	p        int
	implicit bool
	bo       binary.ByteOrder
}

const undefinedLength = 0xffffffff

var (
	tagItem         = mkTag(0xfffe, 0xe000)
	tagItemEnd      = mkTag(0xfffe, 0xe00d)
	tagSequenceEnd  = mkTag(0xfffe, 0xe0dd)
	errTruncatedDS  = errors.New("truncated data set")
	errLengthPastDS = errors.New("an element's length runs past the end of the file")
)

// header reads one element header: tag, VR (explicit VR only; never for items and delimiters)
// and length.
func (r *dsReader) header() (t tag, vr string, n uint32, err error) {
	d := r.data[r.p:]
	if len(d) < 8 {
		return 0, "", 0, errTruncatedDS
	}
	t = mkTag(r.bo.Uint16(d), r.bo.Uint16(d[2:]))
	switch {
	case t>>16 == 0xfffe || r.implicit:
		n, r.p = r.bo.Uint32(d[4:]), r.p+8
	case longVR(string(d[4:6])):
		if len(d) < 12 {
			return 0, "", 0, errTruncatedDS
		}
		vr, n, r.p = string(d[4:6]), r.bo.Uint32(d[8:]), r.p+12
	default:
		vr, n, r.p = string(d[4:6]), uint32(r.bo.Uint16(d[6:])), r.p+8
	}
	return t, vr, n, nil
}

// value takes the next n bytes.
func (r *dsReader) value(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.data)-r.p) {
		return nil, errLengthPastDS
	}
	v := r.data[r.p : r.p+int(n)]
	r.p += int(n)
	return v, nil
}

// skipSequence skips an undefined-length sequence's items, up to and including its
// sequence delimitation item, however deeply nested.
func (r *dsReader) skipSequence() error {
	for depth := 1; depth > 0; {
		t, _, n, err := r.header()
		if err != nil {
			return err
		}
		switch {
		case t == tagSequenceEnd:
			depth--
		case t == tagItemEnd, (t == tagItem || t>>16 != 0xfffe) && n == undefinedLength:
			if t != tagItem && t != tagItemEnd {
				depth++ // a nested undefined-length sequence
			}
			// an undefined-length item's elements follow in line
		default:
			if _, err := r.value(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// read reads the top-level elements up to the pixel data.
func (r *dsReader) read() (*dataSet, error) {
	ds := &dataSet{bo: r.bo, elems: map[tag]dsElem{}}
	for r.p < len(r.data) {
		t, vr, n, err := r.header()
		if err != nil {
			return nil, err
		}
		if t == tagPixelData {
			if n != undefinedLength {
				ds.pixels, err = r.value(n)
				return ds, err
			}
			ds.encaps = true
			for first := true; ; first = false {
				t, _, n, err := r.header()
				if err != nil {
					return nil, err
				}
				if t == tagSequenceEnd {
					return ds, nil
				}
				if t != tagItem || n == undefinedLength {
					return nil, errors.New("malformed encapsulated pixel data")
				}
				frag, err := r.value(n)
				if err != nil {
					return nil, err
				}
				if !first { // the first item is the basic offset table
					ds.fragments = append(ds.fragments, frag)
				}
			}
		}
		if n == undefinedLength { // a sequence (SQ, or UN / implicit VR of undefined length)
			if err := r.skipSequence(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := r.value(n)
		if err != nil {
			return nil, err
		}
		if wantedTags[t] {
			ds.elems[t] = dsElem{vr: vr, value: v}
		}
	}
	return nil, errors.New("no pixel data")
}

// dsString is an element's first string value ("" when absent).
func dsString(ds *dataSet, t tag) string {
	v := dsStrings(ds, t)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// dsStrings is a string element's values: split at backslashes, spaces and NULs trimmed.
func dsStrings(ds *dataSet, t tag) []string {
	e, ok := ds.elems[t]
	if !ok || len(e.value) == 0 {
		return nil
	}
	parts := strings.Split(string(e.value), "\\")
	for i, s := range parts {
		parts[i] = strings.Trim(s, " \x00")
	}
	return parts
}

// dsUint16 is a US element's first value.
func dsUint16(ds *dataSet, t tag) (int, bool) {
	e, ok := ds.elems[t]
	if !ok || len(e.value) < 2 {
		return 0, false
	}
	return int(ds.bo.Uint16(e.value)), true
}

// dsInt is an integer string's (IS) first value.
func dsInt(ds *dataSet, t tag) (int, bool) {
	n, err := strconv.Atoi(dsString(ds, t))
	return n, err == nil
}

// dsFloats is a decimal string's (DS) values; ok only when all parse and are finite.
func dsFloats(ds *dataSet, t tag) ([]float64, bool) {
	var out []float64
	for _, s := range dsStrings(ds, t) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, false
		}
		out = append(out, f)
	}
	return out, len(out) > 0
}

// image decodes the first frame into stored values and maps them to gray.
func (f *dicomFile) image() (image.Image, error) {
	a := &f.attrs
	n := a.rows * a.cols
	switch a.ts {
	case tsJPEGBaseline:
		frame, err := f.firstFragmentedFrame(true)
		if err != nil {
			return nil, err
		}
		img, err := jpeg.Decode(bytes.NewReader(frame))
		if err != nil {
			return nil, err
		}
		if b := img.Bounds(); b.Dx() != a.cols || b.Dy() != a.rows {
			return nil, fmt.Errorf("JPEG frame is %dx%d, the data set says %dx%d", b.Dx(), b.Dy(), a.cols, a.rows)
		}
		g, ok := img.(*image.Gray)
		if !ok {
			return img, nil // colour (YCbCr) JPEG: left to the chroma check
		}
		stored := make([]int32, n)
		for y := 0; y < a.rows; y++ {
			for x, v := range g.Pix[y*g.Stride : y*g.Stride+a.cols] {
				stored[y*a.cols+x] = int32(v)
			}
		}
		a.bitsStored = min(a.bitsStored, 8) // the JPEG's samples are 8-bit whatever the data set says
		return a.render(stored), nil
	case tsJPEGLossless, tsJPEGSV1:
		stored, err := f.losslessStored()
		if err != nil {
			return nil, err
		}
		return a.render(stored), nil
	case tsRLE:
		frame, err := f.firstFragmentedFrame(false)
		if err != nil {
			return nil, err
		}
		raw, err := decodeRLE(frame, n, a.bitsAllocated/8)
		if err != nil {
			return nil, err
		}
		return a.render(a.unpack(raw, binary.BigEndian)), nil // RLE segments are most significant byte first
	default:
		if f.ds.encaps {
			return nil, errors.New("encapsulated pixel data in an uncompressed transfer syntax")
		}
		need := n * a.bitsAllocated / 8
		if len(f.ds.pixels) < need {
			return nil, fmt.Errorf("pixel data has %d bytes, one frame needs %d", len(f.ds.pixels), need)
		}
		var bo binary.ByteOrder = binary.LittleEndian
		if a.ts == tsExplicitBE {
			bo = binary.BigEndian
		}
		return a.render(a.unpack(f.ds.pixels[:need], bo)), nil
	}
}

// losslessStored decodes the first frame of JPEG lossless pixel data into stored values. The
// JPEG samples are the pixel cells, so BitsStored, HighBit and PixelRepresentation apply to them
// as to native data.
func (f *dicomFile) losslessStored() ([]int32, error) {
	a := &f.attrs
	frame, err := f.firstFragmentedFrame(true)
	if err != nil {
		return nil, err
	}
	lf, err := decodeLosslessJPEG(frame)
	if err != nil {
		return nil, err
	}
	if lf.width != a.cols || lf.height != a.rows {
		return nil, fmt.Errorf("JPEG frame is %dx%d, the data set says %dx%d", lf.width, lf.height, a.cols, a.rows)
	}
	if lf.precision > a.bitsAllocated {
		return nil, fmt.Errorf("%d-bit JPEG samples in %d-bit pixel cells", lf.precision, a.bitsAllocated)
	}
	raw := make([]byte, len(lf.pix)*a.bitsAllocated/8)
	for i, v := range lf.pix {
		if a.bitsAllocated == 8 {
			raw[i] = byte(v)
		} else {
			binary.LittleEndian.PutUint16(raw[2*i:], v)
		}
	}
	return a.unpack(raw, binary.LittleEndian), nil
}

// firstFragmentedFrame is the first frame of encapsulated pixel data: every fragment when the
// file has one frame; else the first fragment when there is one per frame; else (JPEG) the
// fragments up to the first that ends with an end-of-image marker.
func (f *dicomFile) firstFragmentedFrame(jpegEOI bool) ([]byte, error) {
	frags := f.ds.fragments
	if !f.ds.encaps || len(frags) == 0 {
		return nil, errors.New("no encapsulated frames")
	}
	if f.attrs.frames > 1 && len(frags) == f.attrs.frames || !jpegEOI && f.attrs.frames > 1 {
		return frags[0], nil
	}
	var out []byte
	for _, fr := range frags {
		d := fr
		out = append(out, d...)
		if f.attrs.frames > 1 {
			t := bytes.TrimRight(d, "\x00")
			if len(t) >= 2 && t[len(t)-2] == 0xff && t[len(t)-1] == 0xd9 {
				break
			}
		}
	}
	return out, nil
}

// unpack reads one frame's samples (8 or 16 bits allocated) in byte order bo, keeps the
// BitsStored bits that end at HighBit, and sign-extends them when PixelRepresentation is 1.
func (a *dicomAttrs) unpack(raw []byte, bo binary.ByteOrder) []int32 {
	n := a.rows * a.cols
	out := make([]int32, n)
	shift := uint(a.high + 1 - a.bitsStored)
	mask := uint32(1)<<uint(a.bitsStored) - 1
	sign := uint32(1) << uint(a.bitsStored-1)
	for i := range out {
		var v uint32
		if a.bitsAllocated == 8 {
			v = uint32(raw[i])
		} else {
			v = uint32(bo.Uint16(raw[2*i:]))
		}
		v = v >> shift & mask
		if a.signed && v&sign != 0 {
			out[i] = int32(v) - int32(mask) - 1
		} else {
			out[i] = int32(v)
		}
	}
	return out
}

// render applies the modality LUT (RescaleSlope, RescaleIntercept), then the VOI LUT (the first
// WindowCenter/WindowWidth, PS3.3 C.11.2.1.2.1 "LINEAR"; without one, the whole range the stored
// bits can hold after rescaling), then MONOCHROME1's inversion, onto 0..65535.
func (a *dicomAttrs) render(stored []int32) *image.Gray16 {
	lo, hi := 0.0, float64(uint32(1)<<uint(a.bitsStored)-1)
	if a.signed {
		lo, hi = -float64(uint32(1)<<uint(a.bitsStored-1)), float64(uint32(1)<<uint(a.bitsStored-1)-1)
	}
	lo, hi = lo*a.slope+a.intercept, hi*a.slope+a.intercept
	if lo > hi {
		lo, hi = hi, lo
	}
	// out = clamp((x - x0) * k) on 0..65535.
	var x0, k float64
	if a.hasWindow {
		c, w := a.center, a.width
		if w <= 1 { // the standard's threshold case; avoid dividing by zero
			x0, k = c-0.5, math.Inf(1)
		} else {
			x0, k = c-0.5-(w-1)/2, 65535/(w-1)
		}
	} else if hi > lo {
		x0, k = lo, 65535/(hi-lo)
	} else {
		x0, k = lo, math.Inf(1)
	}
	invert := a.photometric == "MONOCHROME1"
	img := image.NewGray16(image.Rect(0, 0, a.cols, a.rows))
	for i, s := range stored {
		x := float64(s)*a.slope + a.intercept
		y := (x - x0) * k
		var v uint16
		switch {
		case y <= 0 || math.IsNaN(y):
			v = 0
		case y >= 65535:
			v = 65535
		default:
			v = uint16(y + 0.5)
		}
		if invert {
			v = 65535 - v
		}
		img.Pix[2*i], img.Pix[2*i+1] = byte(v>>8), byte(v)
	}
	return img
}

// decodeRLE decodes one RLE Lossless frame (PS3.5 Annex G): a 64-byte header of segment count
// and offsets, then one PackBits segment per byte plane, most significant first. It returns the
// samples as big-endian bytes per pixel.
func decodeRLE(frame []byte, pixels, bytesPerSample int) ([]byte, error) {
	if len(frame) < 64 {
		return nil, errors.New("RLE frame shorter than its header")
	}
	nseg := int(binary.LittleEndian.Uint32(frame))
	if nseg != bytesPerSample {
		return nil, fmt.Errorf("RLE frame has %d segments, want %d", nseg, bytesPerSample)
	}
	out := make([]byte, pixels*bytesPerSample)
	for s := 0; s < nseg; s++ {
		start := int(binary.LittleEndian.Uint32(frame[4+4*s:]))
		end := len(frame)
		if s+1 < nseg {
			end = int(binary.LittleEndian.Uint32(frame[8+4*s:]))
		}
		if start < 64 || end > len(frame) || start > end {
			return nil, fmt.Errorf("RLE segment %d offsets %d..%d out of range", s, start, end)
		}
		seg := frame[start:end]
		o := 0 // pixel index
		for p := 0; p < len(seg) && o < pixels; {
			c := int(int8(seg[p]))
			p++
			switch {
			case c >= 0: // c+1 literal bytes
				if p+c+1 > len(seg) {
					return nil, errors.New("RLE literal run past the segment's end")
				}
				for _, b := range seg[p : p+c+1] {
					if o < pixels {
						out[o*bytesPerSample+s] = b
						o++
					}
				}
				p += c + 1
			case c != -128: // 1-c copies of the next byte
				if p >= len(seg) {
					return nil, errors.New("RLE replicate run past the segment's end")
				}
				for j := 0; j < 1-c && o < pixels; j++ {
					out[o*bytesPerSample+s] = seg[p]
					o++
				}
				p++
			}
		}
		if o < pixels {
			return nil, fmt.Errorf("RLE segment %d decodes to %d of %d bytes", s, o, pixels)
		}
	}
	return out, nil
}
