#!/usr/bin/env bash
# Builds the DICOM fixtures and dcmtk's reference renderings under imagedecode/testdata/dicom/
# from the committed test film testdata/xray/normal-IM-0001-0001.jpeg.
#
# Needs Debian's dcmtk and webp (apt-get install -y dcmtk webp) and python3. Every file is 128x128 (6 to
# 34 KB). Every data set carries PatientName SECRET^PATIENT, PatientID SECRET-ID-12345 and an
# institution, which the tests assert never reach an error or Info.
#
# The references (*.ref.png) are dcm2pnm's / dcmj2pnm's renderings: 8-bit PNG for the 8-bit
# films, 16-bit PNG (+on2) for the 16-bit ones; windowed files are rendered with +Wi 1 (the
# file's first VOI window), the others with dcmtk's default (no VOI window).
set -euo pipefail
cd "$(dirname "$0")/.."
src=testdata/xray/normal-IM-0001-0001.jpeg
out=imagedecode/testdata/dicom
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
rm -f "$out"/*.dcm "$out"/*.ref.png

# 1. The film's pixels: img2dcm encapsulates the JPEG as is (a 3-component, YCbCr JPEG, gray in
#    content), dcmdjpeg decompresses it and dcmscale scales it to 128x128; python3 keeps one
#    channel as 8-bit gray and makes a 12-bit version, 16*g + (x+y)%16, whose low bits carry
#    detail an 8-bit path would lose, unsigned and signed (-2048..2047).
img2dcm "$src" "$tmp/full.dcm"
dcmdjpeg "$tmp/full.dcm" "$tmp/full-le.dcm"
dcmscale +Sxv 128 +Syv 128 "$tmp/full-le.dcm" "$tmp/scaled.dcm"
dcm2pnm +op "$tmp/scaled.dcm" "$tmp/scaled.pnm"
python3 - "$tmp/scaled.pnm" "$tmp" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
parts = data.split(maxsplit=4) # binary PNM: P5|P6 <w> <h> <maxval> then the samples
ch = {b'P5': 1, b'P6': 3}[parts[0]]
w, h, pix = int(parts[1]), int(parts[2]), parts[4]
assert len(pix) == ch * w * h, (len(pix), w, h)
g8 = bytes(pix[::ch])
u = bytearray(); s = bytearray()
for i, g in enumerate(g8):
    v = 16 * g + (i % w + i // w) % 16
    u += struct.pack('<H', v)
    s += struct.pack('<h', v - 2048)
open(sys.argv[2] + '/pix8.raw', 'wb').write(g8)
open(sys.argv[2] + '/pix16.raw', 'wb').write(u)
open(sys.argv[2] + '/pix16s.raw', 'wb').write(s)
# 6 bits stored; and 16 bits stored, 257*g, where each row's column 11 is column 10 + 32768
# (mod 2^16), and the first sample 0: differences of exactly 32768, lossless JPEG's category 16.
open(sys.argv[2] + '/pix6.raw', 'wb').write(bytes(g >> 2 for g in g8))
f = [257 * g for g in g8]
for y in range(h):
    f[y * w + 11] = (f[y * w + 10] + 32768) & 0xffff
f[0] = 0
open(sys.argv[2] + '/pix16f.raw', 'wb').write(struct.pack('<%dH' % len(f), *f))
PY

# 2. Data sets written with dump2dcm: patient, institution, accession and date attributes to leak,
#    and a nested undefined-length sequence before the pixel data to exercise the data set reader.
mk() { # $1 output, $2 raw pixel file, $3 bits (8|16), $4 PixelRepresentation, then extra dump lines
	local o=$1 raw=$2 bits=$3 rep=$4 vr=OB stored=8
	shift 4
	if [ "$bits" = 16 ]; then vr=OW stored=12; fi
	stored=${STORED:-$stored} # STORED=n mk ... overrides BitsStored
	local high=$((stored - 1))
	{
		echo '(0002,0010) UI =LittleEndianExplicit'
		echo '(0008,0016) UI =SecondaryCaptureImageStorage'
		echo '(0008,0018) UI [1.2.826.0.1.3680043.9.7433.1.1]'
		echo '(0008,0020) DA [19700101]'
		echo '(0008,0050) SH [SECRETACC1]'
		echo '(0008,0060) CS [DX]'
		echo '(0008,0080) LO [SECRET HOSPITAL]'
		echo '(0008,1140) SQ (Sequence with undefined length #=1)'
		echo '(fffe,e000) na (Item with undefined length #=2)'
		echo '(0008,1150) UI =SecondaryCaptureImageStorage'
		echo '(0008,1155) UI [1.2.826.0.1.3680043.9.7433.1.2]'
		echo '(fffe,e00d) na (ItemDelimitationItem)'
		echo '(fffe,e0dd) na (SequenceDelimitationItem)'
		echo '(0010,0010) PN [SECRET^PATIENT]'
		echo '(0010,0020) LO [SECRET-ID-12345]'
		echo '(0010,0030) DA [19500101]'
		echo '(0018,0015) CS [CHEST]'
		echo '(0018,1164) DS [0.139\0.139]'
		echo '(0018,5101) CS [PA]'
		echo '(0028,0002) US 1'
		echo '(0028,0004) CS [MONOCHROME2]'
		echo '(0028,0010) US 128'
		echo '(0028,0011) US 128'
		echo "(0028,0100) US $bits"
		echo "(0028,0101) US $stored"
		echo "(0028,0102) US $high"
		echo "(0028,0103) US $rep"
		for l in "$@"; do echo "$l"; done
		echo "(7fe0,0010) $vr =$raw"
	} >"$tmp/d.dump"
	dump2dcm -e "$tmp/d.dump" "$o"
}

# 3. 8-bit: the same pixels in every transfer syntax dcmtk writes.
mk "$out/explicit_le.dcm" "$tmp/pix8.raw" 8 0
dcmconv +ti "$out/explicit_le.dcm" "$out/implicit_le.dcm"
dcmconv +tb "$out/explicit_le.dcm" "$out/big_endian.dcm"
dcmconv +td "$out/explicit_le.dcm" "$out/deflated.dcm"
dcmcrle "$out/explicit_le.dcm" "$out/rle.dcm"
dcmcjpeg +eb "$out/explicit_le.dcm" "$out/jpeg_baseline.dcm"
dcmcjpeg +e1 "$out/explicit_le.dcm" "$out/jpeg_lossless_sv1.dcm" # .4.70
dcmcjpeg +el "$out/explicit_le.dcm" "$out/jpeg_lossless.dcm"     # .4.57, selection value 6

# 4. Pixel transforms and refusals, by editing the base.
cp "$out/explicit_le.dcm" "$out/monochrome1.dcm"
dcmodify -nb -m 'PhotometricInterpretation=MONOCHROME1' "$out/monochrome1.dcm"
cp "$out/explicit_le.dcm" "$out/window8.dcm"
dcmodify -nb -i 'WindowCenter=100' -i 'WindowWidth=120' "$out/window8.dcm"
cp "$out/explicit_le.dcm" "$out/ct.dcm"
dcmodify -nb -m 'Modality=CT' "$out/ct.dcm"
cp "$out/explicit_le.dcm" "$out/lateral.dcm"
dcmodify -nb -m 'ViewPosition=LL' "$out/lateral.dcm"
cp "$out/explicit_le.dcm" "$out/knee.dcm"
dcmodify -nb -m 'BodyPartExamined=KNEE' "$out/knee.dcm"

# 5. 16-bit (12 bits stored): full range, rescaled and windowed (two windows; the first applies),
#    signed, and the windowed one big endian, RLE and MONOCHROME1.
mk "$out/gray16_full.dcm" "$tmp/pix16.raw" 16 0
mk "$out/gray16_window.dcm" "$tmp/pix16.raw" 16 0 \
	'(0028,1050) DS [1500\2000]' '(0028,1051) DS [1800\4000]' '(0028,1052) DS [-1024]' '(0028,1053) DS [2]'
mk "$out/gray16_signed.dcm" "$tmp/pix16s.raw" 16 1 '(0028,1052) DS [100]' '(0028,1053) DS [0.5]'
dcmconv +tb "$out/gray16_window.dcm" "$out/gray16_window_be.dcm"
dcmcrle "$out/gray16_window.dcm" "$out/gray16_window_rle.dcm"
cp "$out/gray16_window.dcm" "$out/gray16_window_mono1.dcm"
dcmodify -nb -m 'PhotometricInterpretation=MONOCHROME1' "$out/gray16_window_mono1.dcm"

# 6. JPEG lossless (process 14). dcmcjpeg writes one scan of precision 8 (8-bit cells) or 16
#    (16-bit cells, whatever BitsStored says), without restart intervals; the other precisions
#    and restart intervals come from tools/ljpeg_fixture.py, which encodes a stream and puts it
#    in place of the frame of a dcmcjpeg-made file of the same image. Each file's reference is
#    dcmdjpeg's decompression of it, checked here to equal the uncompressed file the test names
#    (samples without the point transform's low bits where there is one); where there is a point
#    transform the decompression itself is kept, as <name>.dcmdjpeg.dcm.
lj=tools/ljpeg_fixture.py
ljcheck() { # $1 lossless file, $2 uncompressed source, $3 point transform
	dcmdjpeg "$1" "$tmp/dj.dcm"
	python3 "$lj" same "$tmp/dj.dcm" "$2" "$3"
	if [ "$3" != 0 ]; then cp "$tmp/dj.dcm" "${1%.dcm}.dcmdjpeg.dcm"; fi
}
for sv in 2 3 4 5 7; do
	dcmcjpeg +el +sv "$sv" "$out/explicit_le.dcm" "$out/jpeg_lossless_sv$sv.dcm"
done
for f in jpeg_lossless_sv1 jpeg_lossless jpeg_lossless_sv2 jpeg_lossless_sv3 jpeg_lossless_sv4 jpeg_lossless_sv5 jpeg_lossless_sv7; do
	ljcheck "$out/$f.dcm" "$out/explicit_le.dcm" 0
done
dcmcjpeg +e1 +pt 2 "$out/explicit_le.dcm" "$out/jpeg_lossless_sv1_pt2.dcm"
ljcheck "$out/jpeg_lossless_sv1_pt2.dcm" "$out/explicit_le.dcm" 2
dcmcjpeg +e1 "$out/gray16_window.dcm" "$out/gray16_lossless_sv1.dcm"
ljcheck "$out/gray16_lossless_sv1.dcm" "$out/gray16_window.dcm" 0
dcmcjpeg +el +sv 7 +pt 3 "$out/gray16_window.dcm" "$out/gray16_lossless_sv7_pt3.dcm"
ljcheck "$out/gray16_lossless_sv7_pt3.dcm" "$out/gray16_window.dcm" 3
dcmcjpeg +e1 "$out/gray16_window_mono1.dcm" "$out/gray16_lossless_mono1.dcm"
ljcheck "$out/gray16_lossless_mono1.dcm" "$out/gray16_window_mono1.dcm" 0
dcmcjpeg +el +sv 5 "$out/gray16_signed.dcm" "$out/gray16_lossless_signed.dcm"
ljcheck "$out/gray16_lossless_signed.dcm" "$out/gray16_signed.dcm" 0
STORED=16 mk "$out/gray16_bits16.dcm" "$tmp/pix16f.raw" 16 0
dcmcjpeg +e1 "$out/gray16_bits16.dcm" "$out/gray16_bits16_lossless.dcm"
ljcheck "$out/gray16_bits16_lossless.dcm" "$out/gray16_bits16.dcm" 0
# Precision 12 with restart intervals (every 8 rows; every 5 rows with a point transform).
python3 "$lj" encode "$out/gray16_lossless_sv1.dcm" "$out/gray16_window.dcm" 12 5 0 8 "$out/gray12_lossless_sv5_rst8.dcm"
ljcheck "$out/gray12_lossless_sv5_rst8.dcm" "$out/gray16_window.dcm" 0
python3 "$lj" encode "$out/gray16_lossless_sv1.dcm" "$out/gray16_window.dcm" 12 6 1 5 "$out/gray12_lossless_sv6_pt1_rst5.dcm"
ljcheck "$out/gray12_lossless_sv6_pt1_rst5.dcm" "$out/gray16_window.dcm" 1
# Precision 6 (6 bits stored in 8-bit cells), predictor 4, restarts every 16 rows.
STORED=6 mk "$out/gray6.dcm" "$tmp/pix6.raw" 8 0
dcmcjpeg +e1 "$out/gray6.dcm" "$tmp/gray6_base.dcm"
python3 "$lj" encode "$tmp/gray6_base.dcm" "$out/gray6.dcm" 6 4 0 16 "$out/gray6_lossless_sv4_rst16.dcm"
ljcheck "$out/gray6_lossless_sv4_rst16.dcm" "$out/gray6.dcm" 0

# 7. dcmtk's renderings.
dcm2pnm +on "$out/explicit_le.dcm" "$out/explicit_le.ref.png"
dcmj2pnm +on "$out/jpeg_baseline.dcm" "$out/jpeg_baseline.ref.png"
dcm2pnm +on "$out/monochrome1.dcm" "$out/monochrome1.ref.png"
dcm2pnm +on +Wi 1 "$out/window8.dcm" "$out/window8.ref.png"
dcm2pnm +on2 "$out/gray16_full.dcm" "$out/gray16_full.ref.png"
dcm2pnm +on2 +Wi 1 "$out/gray16_window.dcm" "$out/gray16_window.ref.png"
dcm2pnm +on2 "$out/gray16_signed.dcm" "$out/gray16_signed.ref.png"
dcm2pnm +on2 +Wi 1 "$out/gray16_window_mono1.dcm" "$out/gray16_window_mono1.ref.png"
rm -f "$out"/*.bak

# 8. WebP has no Go encoder: two small WebP films (lossless VP8L, lossy VP8) made with cwebp
#    (Debian's webp package) from the 8-bit reference rendering.
cwebp -quiet -lossless "$out/explicit_le.ref.png" -o imagedecode/testdata/gray-lossless.webp
cwebp -quiet -q 80 "$out/explicit_le.ref.png" -o imagedecode/testdata/gray-lossy.webp
ls -l "$out" imagedecode/testdata/*.webp
