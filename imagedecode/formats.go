package imagedecode

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// The standard raster formats, each through its own decoder (not image.Decode, so what is
// accepted is exactly what is registered here, whatever else the program imports). DICOM
// (dicom.go) comes first: its magic is at byte 128, after a free-form preamble that could start
// with another format's magic.
func init() {
	RegisterFormat(dicomFormat)
	std := func(name string, exts []string, magic string, decode func(io.Reader) (image.Image, error), config func(io.Reader) (image.Config, error)) {
		RegisterFormat(Format{
			Name:       name,
			Extensions: exts,
			Match:      matchMagic(magic),
			Config: func(data []byte) (image.Config, error) {
				return config(bytes.NewReader(data))
			},
			Decode: func(data []byte) (image.Image, Info, error) {
				img, err := decode(bytes.NewReader(data))
				return img, Info{}, err
			},
		})
	}
	std("JPEG", []string{".jpeg", ".jpg"}, "\xff\xd8", jpeg.Decode, jpeg.DecodeConfig)
	std("PNG", []string{".png"}, "\x89PNG\r\n\x1a\n", png.Decode, png.DecodeConfig)
	// gif.Decode returns the first frame of an animation.
	std("GIF", []string{".gif"}, "GIF8?a", gif.Decode, gif.DecodeConfig)
	std("BMP", []string{".bmp"}, "BM????\x00\x00\x00\x00", bmp.Decode, bmp.DecodeConfig)
	// tiff.Decode returns the first page (IFD); 16-bit gray comes back as *image.Gray16.
	tiffDecode, tiffConfig := tiff.Decode, tiff.DecodeConfig
	RegisterFormat(Format{
		Name:       "TIFF",
		Extensions: []string{".tif", ".tiff"},
		Match: func(data []byte) bool {
			return matchMagic("II*\x00")(data) || matchMagic("MM\x00*")(data)
		},
		Config: func(data []byte) (image.Config, error) { return tiffConfig(bytes.NewReader(data)) },
		Decode: func(data []byte) (image.Image, Info, error) {
			img, err := tiffDecode(bytes.NewReader(data))
			return img, Info{}, err
		},
	})
	std("WebP", []string{".webp"}, "RIFF????WEBPVP8", webp.Decode, webp.DecodeConfig)
}
