package imagedecode

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Lossless JPEG (ITU T.81 Annex H, process 14: Huffman-coded predictive lossless, one scan), the
// encoding of DICOM transfer syntaxes 1.2.840.10008.1.2.4.57 and .70 and of most CR/DX archives.
// Neither the standard library nor any maintained pure-Go module decodes it, and a full libjpeg
// port is far larger than the browser worker can carry, so it is decoded here: one grayscale
// component, precision 2..16 bits, any of the seven predictors, a point transform and restart
// intervals of whole rows. The tests check every predictor, 8-, 12- and 16-bit precision, a
// point transform and restarts sample for sample against dcmtk's decompression.

// losslessFrame is one decoded frame: width*height samples, row by row, already shifted back
// left by the point transform.
type losslessFrame struct {
	width, height, precision int
	pix                      []uint16
}

var errLosslessTruncated = errors.New("lossless JPEG data ends early")

// decodeLosslessJPEG decodes a lossless JPEG stream (SOI, tables, SOF3, SOS, entropy-coded data).
func decodeLosslessJPEG(data []byte) (*losslessFrame, error) {
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, errors.New("lossless JPEG: no start-of-image marker")
	}
	var (
		tables  [4]*huffTable
		restart int
		f       *losslessFrame
		compID  byte
	)
	for p := 2; ; {
		if p+2 > len(data) {
			return nil, errLosslessTruncated
		}
		if data[p] != 0xff {
			return nil, fmt.Errorf("lossless JPEG: no marker at byte %d", p)
		}
		m := data[p+1]
		if m == 0xff { // fill byte before a marker
			p++
			continue
		}
		p += 2
		if m == 0xd9 {
			return nil, errors.New("lossless JPEG: no scan before the end-of-image marker")
		}
		if m == 0x01 || m >= 0xd0 && m <= 0xd8 { // markers without a segment
			continue
		}
		if p+2 > len(data) {
			return nil, errLosslessTruncated
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		if n < 2 || p+n > len(data) {
			return nil, errLosslessTruncated
		}
		seg := data[p+2 : p+n]
		p += n
		switch {
		case m == 0xc3: // SOF3: lossless, Huffman
			if f != nil {
				return nil, errors.New("lossless JPEG: more than one frame header")
			}
			var err error
			if f, compID, err = readSOF3(seg); err != nil {
				return nil, err
			}
		case m == 0xc4:
			if err := readDHT(seg, &tables); err != nil {
				return nil, err
			}
		case m == 0xdd: // DRI
			if len(seg) != 2 {
				return nil, errors.New("lossless JPEG: bad restart interval segment")
			}
			restart = int(binary.BigEndian.Uint16(seg))
		case m == 0xda:
			if f == nil {
				return nil, errors.New("lossless JPEG: scan before the frame header")
			}
			if err := f.decodeScan(seg, data[p:], compID, &tables, restart); err != nil {
				return nil, err
			}
			return f, nil
		case m >= 0xc0 && m <= 0xcf && m != 0xc8:
			// Any other frame type (baseline, extended, progressive, arithmetic-coded,
			// hierarchical) or arithmetic conditioning: not what the transfer syntax promises.
			return nil, fmt.Errorf("lossless JPEG: the stream is a JPEG of another process (marker 0x%02X), not SOF3", m)
		}
		// APPn, COM, DQT, DNL and the like carry nothing needed here.
	}
}

// readSOF3 reads the frame header: precision, size and the one component's identifier.
func readSOF3(seg []byte) (*losslessFrame, byte, error) {
	if len(seg) < 6 {
		return nil, 0, errors.New("lossless JPEG: short frame header")
	}
	prec, h, w, nc := int(seg[0]), int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:])), int(seg[5])
	if len(seg) != 6+3*nc {
		return nil, 0, errors.New("lossless JPEG: frame header length does not match its component count")
	}
	if nc != 1 {
		return nil, 0, &Error{Kind: Unsupported, Message: fmt.Sprintf(
			"This DICOM file's lossless JPEG frame has %d components; pneumoscan reads grayscale (one-component) radiographs.", nc)}
	}
	if prec < 2 || prec > 16 {
		return nil, 0, fmt.Errorf("lossless JPEG: precision %d bits outside 2..16", prec)
	}
	if w == 0 || h == 0 {
		// Height 0 defers the line count to a DNL marker after the scan; DICOM encoders do not.
		return nil, 0, fmt.Errorf("lossless JPEG: frame size %dx%d", w, h)
	}
	if w*h > MaxPixels {
		return nil, 0, &Error{Kind: TooLarge, Message: fmt.Sprintf(
			"The image is too large (%dx%d pixels); the limit is %d megapixels.", w, h, MaxPixels/1_000_000)}
	}
	return &losslessFrame{width: w, height: h, precision: prec}, seg[6], nil
}

// huffTable is one Huffman table (T.81 Annex C), decoded through a lookup of the next lutBits
// bits for the short codes that make up nearly all of a radiograph's symbols, and canonical
// decoding (F.2.2.3) for the rest.
type huffTable struct {
	lut     [1 << lutBits]uint16 // code length<<8 | symbol, for codes of at most lutBits bits; 0 otherwise
	maxCode [17]int32            // the largest code of each length; -1 when there is none
	valPtr  [17]int32            // index in vals of the codes of each length, less the first code
	vals    []byte
}

const lutBits = 9

// readDHT reads every table of a DHT segment into tables.
func readDHT(seg []byte, tables *[4]*huffTable) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errors.New("lossless JPEG: short Huffman table")
		}
		class, id := seg[0]>>4, seg[0]&0x0f
		if class != 0 || id > 3 {
			// Lossless scans use DC-class tables (T.81 H.2.2) only.
			return fmt.Errorf("lossless JPEG: Huffman table class %d, id %d", class, id)
		}
		var counts [17]int
		total := 0
		for l := 1; l <= 16; l++ {
			counts[l] = int(seg[l])
			total += counts[l]
		}
		if total > 256 || len(seg) < 17+total {
			return errors.New("lossless JPEG: bad Huffman table")
		}
		t := &huffTable{vals: append([]byte(nil), seg[17:17+total]...)}
		code, k := int32(0), int32(0)
		for l := 1; l <= 16; l++ {
			t.valPtr[l] = k - code
			for i := 0; i < counts[l]; i++ {
				if l <= lutBits {
					shift := lutBits - l
					for j := code << shift; j < (code+1)<<shift; j++ {
						t.lut[j] = uint16(l)<<8 | uint16(t.vals[k])
					}
				}
				code++
				k++
			}
			if code > 1<<l {
				return errors.New("lossless JPEG: Huffman table has more codes than its lengths allow")
			}
			t.maxCode[l] = code - 1
			if counts[l] == 0 {
				t.maxCode[l] = -1
			}
			code <<= 1
		}
		tables[id] = t
		seg = seg[17+total:]
	}
	return nil
}

// bitReader reads entropy-coded bits, most significant first, unstuffing 0xFF00. At a marker or
// the end of the data it supplies zero bytes and counts them, so decoding never reads past the
// stream and a truncated one is caught (overrun) instead of guessed.
type bitReader struct {
	data []byte
	p    int
	acc  uint64 // the next n bits, at the top
	n    uint
	fake int // zero bytes supplied past a marker or the end
	err  error
}

func (b *bitReader) fill() {
	for b.n <= 56 {
		var c byte
		switch {
		case b.p < len(b.data) && b.data[b.p] != 0xff:
			c = b.data[b.p]
			b.p++
		case b.p+1 < len(b.data) && b.data[b.p+1] == 0x00:
			c = 0xff
			b.p += 2
		default:
			b.fake++
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// overrun reports whether decoding has used bits that are not in the stream.
func (b *bitReader) overrun() bool { return b.n < 8*uint(b.fake) }

// diff decodes one difference (T.81 H.2.2: a Huffman-coded category SSSS, then SSSS extra bits;
// category 16 is the difference 32768 and has none).
func (b *bitReader) diff(t *huffTable) int {
	if b.n < 32 {
		b.fill()
	}
	var s int
	if e := t.lut[b.acc>>(64-lutBits)]; e != 0 {
		b.acc <<= e >> 8
		b.n -= uint(e >> 8)
		s = int(e & 0xff)
	} else {
		l := lutBits + 1
		for ; l <= 16; l++ {
			if code := int32(b.acc >> (64 - l)); code <= t.maxCode[l] {
				s = int(t.vals[t.valPtr[l]+code])
				break
			}
		}
		if l > 16 {
			if b.err == nil {
				b.err = errors.New("lossless JPEG: a code that is in no Huffman table")
			}
			return 0
		}
		b.acc <<= l
		b.n -= uint(l)
	}
	switch {
	case s == 0:
		return 0
	case s == 16:
		return 32768
	case s > 16:
		if b.err == nil {
			b.err = fmt.Errorf("lossless JPEG: difference category %d", s)
		}
		return 0
	}
	v := int(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= uint(s)
	if v < 1<<(s-1) { // negative (T.81 F.2.2.1, EXTEND)
		v += 1 - 1<<s
	}
	return v
}

// restart steps over the RSTk marker that ends a restart interval, dropping the interval's
// padding bits.
func (b *bitReader) restart(k int) error {
	if b.overrun() {
		return errLosslessTruncated
	}
	b.acc, b.n, b.fake = 0, 0, 0
	for b.p+1 < len(b.data) && b.data[b.p] == 0xff && b.data[b.p+1] == 0xff {
		b.p++
	}
	if b.p+1 >= len(b.data) || b.data[b.p] != 0xff || b.data[b.p+1] != 0xd0+byte(k%8) {
		return fmt.Errorf("lossless JPEG: restart marker RST%d missing", k%8)
	}
	b.p += 2
	return nil
}

// decodeScan reads the scan header sos and decodes the entropy-coded data that follows it.
//
// Prediction (T.81 H.1.2.1): Ra is the sample to the left, Rb the one above, Rc above-left. The
// first sample of the scan and of every restart interval is predicted by 2^(P-Pt-1), the rest of
// that first row by Ra, the first sample of every other row by Rb, and all others by the scan's
// predictor. Sums are modulo 2^16, as the differences are.
func (f *losslessFrame) decodeScan(sos, data []byte, compID byte, tables *[4]*huffTable, restart int) error {
	if len(sos) != 6 || sos[0] != 1 {
		return errors.New("lossless JPEG: the scan must hold exactly the one component")
	}
	if sos[1] != compID {
		return errors.New("lossless JPEG: the scan's component is not the frame's")
	}
	td := sos[2] >> 4
	if td > 3 || tables[td] == nil {
		return errors.New("lossless JPEG: the scan's Huffman table is missing")
	}
	t := tables[td]
	pred, pt := int(sos[3]), int(sos[5]&0x0f)
	if pred < 1 || pred > 7 {
		return fmt.Errorf("lossless JPEG: predictor %d outside 1..7", pred)
	}
	if pt >= f.precision {
		return fmt.Errorf("lossless JPEG: point transform %d for %d-bit samples", pt, f.precision)
	}
	w, h := f.width, f.height
	rowsPerInterval := 0
	if restart > 0 {
		if restart%w != 0 {
			return &Error{Kind: Unsupported, Message: fmt.Sprintf(
				"This DICOM file's lossless JPEG restart interval (%d samples) is not a whole number of rows (%d samples); lossless decoders, dcmtk's included, expect whole rows.", restart, w)}
		}
		rowsPerInterval = restart / w
	}
	f.pix = make([]uint16, w*h)
	br := bitReader{data: data}
	initial := 1 << (f.precision - pt - 1)
	for y, interval := 0, 0; y < h; y++ {
		first := y == 0
		if rowsPerInterval > 0 && y > 0 && y%rowsPerInterval == 0 {
			if err := br.restart(interval); err != nil {
				return err
			}
			interval++
			first = true
		}
		row := f.pix[y*w : (y+1)*w]
		if first {
			row[0] = uint16(initial + br.diff(t))
			for x := 1; x < w; x++ {
				row[x] = uint16(int(row[x-1]) + br.diff(t))
			}
		} else {
			up := f.pix[(y-1)*w : y*w]
			row[0] = uint16(int(up[0]) + br.diff(t))
			for x := 1; x < w; x++ {
				ra, rb, rc := int(row[x-1]), int(up[x]), int(up[x-1])
				var p int
				switch pred {
				case 1:
					p = ra
				case 2:
					p = rb
				case 3:
					p = rc
				case 4:
					p = ra + rb - rc
				case 5:
					p = ra + (rb-rc)>>1
				case 6:
					p = rb + (ra-rc)>>1
				default:
					p = (ra + rb) >> 1
				}
				row[x] = uint16(p + br.diff(t))
			}
		}
		if br.err != nil {
			return br.err
		}
		if br.overrun() {
			return errLosslessTruncated
		}
	}
	if pt > 0 {
		for i, v := range f.pix {
			f.pix[i] = v << pt
		}
	}
	return nil
}
