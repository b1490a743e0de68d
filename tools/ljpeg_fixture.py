"""Lossless JPEG fixtures for tools/make_dicom_fixtures.sh, for what dcmcjpeg cannot write.

encode BASE SOURCE PRECISION PREDICTOR PT RESTART_ROWS OUT
    Encodes SOURCE's 128x128 samples (an uncompressed DICOM file) as a lossless JPEG (ITU T.81
    process 14: one component, the given precision, predictor 1..7, point transform and a restart
    interval of RESTART_ROWS rows, 0 for none) and writes OUT: BASE, a JPEG lossless DICOM file
    of the same image made by dcmcjpeg, with its frame replaced. dcmdjpeg then decodes OUT, and
    the script checks the result (same), so this encoder is tested against dcmtk too.
same DECODED SOURCE PT
    Fails unless DECODED's samples equal SOURCE's with the PT low bits cleared.
"""
import struct, sys

def pixel_data(path):
    d = open(path, 'rb').read()
    for vr in (b'OW', b'OB'):
        i = d.rfind(b'\xe0\x7f\x10\x00' + vr + b'\x00\x00')
        if i >= 0:
            n = struct.unpack('<I', d[i + 8:i + 12])[0]
            assert n != 0xffffffff, path + ': encapsulated'
            return d[i + 12:i + 12 + n]
    raise SystemExit(path + ': no native pixel data')

def samples(raw, nbytes):
    if nbytes == 1:
        return list(raw)
    return list(struct.unpack('<%dH' % (len(raw) // 2), raw))

def encode(pix, w, h, prec, pred, pt, rst_rows):
    s = [v >> pt for v in pix]
    initial = 1 << (prec - pt - 1)
    cats = []
    for y in range(h):
        first = y == 0 or (rst_rows and y % rst_rows == 0)
        for x in range(w):
            i = y * w + x
            if first:
                p = initial if x == 0 else s[i - 1]
            elif x == 0:
                p = s[i - w]
            else:
                ra, rb, rc = s[i - 1], s[i - w], s[i - w - 1]
                p = [None, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1][pred]
            d = (s[i] - p) & 0xffff
            if d >= 0x8000:
                d -= 0x10000
            n = 16 if d == -0x8000 else abs(d).bit_length()
            cats.append((n, d))
    # Code lengths by frequency rank: 1, 3, 4, ... 16, 16, 16 (Kraft sum below 1, so no
    # all-ones code), long enough that rare categories need more than 9 bits.
    freq = {}
    for n, _ in cats:
        freq[n] = freq.get(n, 0) + 1
    syms = sorted(range(17), key=lambda c: (-freq.get(c, 0), c))
    lens = [1] + list(range(3, 17)) + [16, 16]
    counts = [0] * 17
    for l in lens:
        counts[l] += 1
    order = [c for l in range(1, 17) for c, cl in zip(syms, lens) if cl == l]
    codes, code, k = {}, 0, 0
    for l in range(1, 17):
        for _ in range(counts[l]):
            codes[order[k]] = (code, l)
            code += 1
            k += 1
        code <<= 1
    out = bytearray()
    acc, nacc = 0, 0
    def put(v, n):
        nonlocal acc, nacc
        acc, nacc = (acc << n) | (v & ((1 << n) - 1)), nacc + n
        while nacc >= 8:
            b = (acc >> (nacc - 8)) & 0xff
            out.append(b)
            if b == 0xff:
                out.append(0)
            nacc -= 8
    def pad():
        nonlocal nacc
        if nacc:
            put((1 << (8 - nacc)) - 1, 8 - nacc)
    for i, (n, d) in enumerate(cats):
        y, x = divmod(i, w)
        if rst_rows and y > 0 and x == 0 and y % rst_rows == 0:
            pad()
            out += bytes([0xff, 0xd0 + (y // rst_rows - 1) % 8])
        put(*codes[n])
        if 0 < n < 16:
            put(d if d > 0 else d - 1, n)
    pad()
    seg = lambda m, b: bytes([0xff, m]) + struct.pack('>H', len(b) + 2) + b
    j = b'\xff\xd8'
    j += seg(0xc3, struct.pack('>BHHB', prec, h, w, 1) + bytes([1, 0x11, 0]))
    j += seg(0xc4, bytes([0x00]) + bytes(counts[1:]) + bytes(order))
    if rst_rows:
        j += seg(0xdd, struct.pack('>H', rst_rows * w))
    j += seg(0xda, bytes([1, 1, 0x00, pred, 0, pt]))
    return j + bytes(out) + b'\xff\xd9'

def splice(base, frame, out):
    # base: a JPEG lossless DICOM file of the same image; its one frame is replaced.
    d = open(base, 'rb').read()
    i = d.find(b'\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff')
    assert i >= 0, base
    p = i + 12
    assert d[p:p + 4] == b'\xfe\xff\x00\xe0'
    p += 8 + struct.unpack('<I', d[p + 4:p + 8])[0]  # keep the offset table
    if len(frame) % 2:
        frame += b'\x00'
    open(out, 'wb').write(d[:p] + b'\xfe\xff\x00\xe0' + struct.pack('<I', len(frame)) + frame +
                          b'\xfe\xff\xdd\xe0\x00\x00\x00\x00')

cmd = sys.argv[1]
W = H = 128
if cmd == 'encode':
    base, src, prec, pred, pt, rst, out = sys.argv[2:]
    raw = pixel_data(src)
    pix = samples(raw, len(raw) // (W * H))
    splice(base, encode(pix, W, H, int(prec), int(pred), int(pt), int(rst)), out)
elif cmd == 'same':
    dec, src, pt = sys.argv[2:]
    ra, rb = pixel_data(dec), pixel_data(src)
    a, b = samples(ra, len(ra) // (W * H)), samples(rb, len(rb) // (W * H))
    pt = int(pt)
    want = [v >> pt << pt for v in b]
    bad = sum(x != y for x, y in zip(a, want))
    if len(ra) != len(rb) or len(a) != W * H or bad:
        raise SystemExit('%s: %d of %d samples differ from %s (point transform %d)' % (dec, bad, len(want), src, pt))
else:
    raise SystemExit('usage: ljpeg_fixture.py encode|same ...')
