package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pneumoscan/dataset"
	"pneumoscan/imagedecode"
	"pneumoscan/server/api"
)

// kind is one row of the table: a sort of request and the status the API answers it with
// (server/api/api.go; each status is checked against openapi.json before the run).
type kind struct {
	name   string
	want   int
	valid  bool   // a chest film: 200, and the same answer as when sent alone
	method string // POST unless set
	ctype  string
	body   []byte
	// slow: send Content-Length and half the body, then stall; the server's read timeout
	// must cut the request (400, "reading the upload failed").
	slow bool
}

// validFile is one chest film. label never holds a file name (a data set file's name may
// carry patient data): it says where the film came from and its place there.
type validFile struct {
	kind  int // index into the kinds
	label string
	body  []byte
	ctype string
}

// Paths of the committed fixtures, relative to the module root.
const (
	xrayFixtures = "testdata/xray"
	dicomFilm    = "imagedecode/testdata/dicom/gray16_full.dcm" // 16-bit MONOCHROME2, accepted
	dicomCT      = "imagedecode/testdata/dicom/ct.dcm"          // Modality CT: refused
)

// Row names of the valid kinds.
const (
	validJPEG    = "valid: JPEG chest film"
	validPNG16   = "valid: 16-bit PNG chest film"
	validDICOM   = "valid: DICOM, 16-bit"
	slowKindName = "hostile: slow client (half a body, then stalls)"
)

// buildKinds returns every kind, the valid ones first, and the valid files. root is the
// module root; when dataDir is not empty, dataImages films of that labelled folder are
// added (the first sorted of each class, shared out evenly).
func buildKinds(root, dataDir string, dataImages int, seed uint64) ([]kind, []validFile, error) {
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(rel))) }
	kinds := []kind{
		{name: validJPEG, want: http.StatusOK, valid: true, ctype: "image/jpeg"},
		{name: validPNG16, want: http.StatusOK, valid: true, ctype: "image/png"},
		{name: validDICOM, want: http.StatusOK, valid: true, ctype: "application/dicom"},
	}
	var valid []validFile
	fixtures, err := filepath.Glob(filepath.Join(root, xrayFixtures, "*.jpeg"))
	if err != nil || len(fixtures) == 0 {
		return nil, nil, fmt.Errorf("no JPEG fixtures in %s (%v)", filepath.Join(root, xrayFixtures), err)
	}
	slices.Sort(fixtures)
	var jpegs [][]byte
	for i, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		jpegs = append(jpegs, b)
		valid = append(valid, validFile{kind: 0, label: fmt.Sprintf("fixture %d (JPEG)", i+1), body: b, ctype: "image/jpeg"})
	}
	png16, err := gray16PNG(jpegs[0])
	if err != nil {
		return nil, nil, err
	}
	valid = append(valid, validFile{kind: 1, label: "fixture 1 as 16-bit PNG", body: png16, ctype: "image/png"})
	dcm, err := read(dicomFilm)
	if err != nil {
		return nil, nil, err
	}
	valid = append(valid, validFile{kind: 2, label: "DICOM fixture (16-bit)", body: dcm, ctype: "application/dicom"})
	if dataDir != "" && dataImages > 0 {
		films, err := dataFilms(dataDir, dataImages)
		if err != nil {
			return nil, nil, err
		}
		valid = append(valid, films...)
	}

	ct, err := read(dicomCT)
	if err != nil {
		return nil, nil, err
	}
	colour, err := colourPhoto()
	if err != nil {
		return nil, nil, err
	}
	var noField bytes.Buffer
	mw := multipart.NewWriter(&noField)
	mw.WriteField("note", "no image here")
	mw.Close()
	r := rand.New(rand.NewPCG(seed, 7))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	kinds = append(kinds,
		kind{name: "hostile: truncated JPEG (first third)", want: http.StatusUnprocessableEntity, ctype: "image/jpeg", body: jpegs[0][:len(jpegs[0])/3]},
		kind{name: "hostile: random bytes (64 KiB)", want: http.StatusUnsupportedMediaType, ctype: "application/octet-stream", body: random},
		kind{name: "hostile: empty body", want: http.StatusBadRequest, ctype: "image/jpeg", body: []byte{}},
		kind{name: "hostile: PNG bomb (100000x100000 header, 16 MiB of zeros deflated)", want: http.StatusUnprocessableEntity, ctype: "image/png", body: pngBomb(100000, 100000, 16<<20)},
		kind{name: fmt.Sprintf("hostile: body over the %d MiB limit", api.MaxBody>>20), want: http.StatusRequestEntityTooLarge, ctype: "application/octet-stream", body: make([]byte, api.MaxBody+1)},
		kind{name: "hostile: colour photograph (PNG)", want: http.StatusUnprocessableEntity, ctype: "image/png", body: colour},
		kind{name: "hostile: CT DICOM (not a chest X-ray)", want: http.StatusUnprocessableEntity, ctype: "application/dicom", body: ct},
		kind{name: "hostile: multipart without an image field", want: http.StatusBadRequest, ctype: mw.FormDataContentType(), body: noField.Bytes()},
		kind{name: "hostile: wrong method (GET /api/v1/screen)", want: http.StatusMethodNotAllowed, method: http.MethodGet},
		kind{name: slowKindName, want: http.StatusBadRequest, ctype: "image/jpeg", body: jpegs[0], slow: true},
	)
	return kinds, valid, nil
}

// dataFilms reads n JPEG films of a labelled folder (NORMAL/, PNEUMONIA/): the first
// sorted files of each class in turn.
func dataFilms(dir string, n int) ([]validFile, error) {
	items, err := dataset.Labelled(dir)
	if err != nil {
		return nil, err
	}
	byClass := map[int][]dataset.Item{}
	for _, it := range items {
		if ext := strings.ToLower(filepath.Ext(it.Path)); ext == ".jpeg" || ext == ".jpg" { // the JPEG row's films
			byClass[it.Label] = append(byClass[it.Label], it)
		}
	}
	var out []validFile
	for i := 0; len(out) < n; i++ {
		added := false
		for _, label := range []int{dataset.Normal, dataset.Pneumonia} {
			if i < len(byClass[label]) && len(out) < n {
				b, err := os.ReadFile(byClass[label][i].Path)
				if err != nil {
					return nil, err
				}
				out = append(out, validFile{kind: 0, label: fmt.Sprintf("test image %d (%s)", len(out)+1, dataset.ClassDirs[label]), body: b, ctype: "image/jpeg"})
				added = true
			}
		}
		if !added {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no labelled JPEG or PNG films", dir)
	}
	return out, nil
}

// gray16PNG re-encodes a gray film as a 16-bit gray PNG (each 8-bit value v as v*257), a
// decoding path of its own.
func gray16PNG(jpeg []byte) ([]byte, error) {
	img, err := imagedecode.Decode(jpeg)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	g := image.NewGray16(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Set(x, y, color.Gray16Model.Convert(img.At(x, y)))
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, g); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// colourPhoto is a 256x256 PNG of saturated hues: far above imagedecode.MaxChroma.
func colourPhoto() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(255 - y), uint8((x + y) / 2), 255})
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// pngBomb is a well-formed PNG start that declares w x h 8-bit gray pixels and carries
// zeros bytes of its pixel data deflated (about a thousandth of that): what a decoder
// would inflate and allocate if it did not check the header first.
func pngBomb(w, h uint32, zeros int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc.Sum32())
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // bit depth 8, gray, deflate, adaptive filter, no interlace
	chunk("IHDR", ihdr)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	zw.Write(make([]byte, zeros))
	zw.Close()
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
