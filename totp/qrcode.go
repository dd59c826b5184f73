package totp

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"sync"

	"github.com/boombuler/barcode/qr"
)

// QR codes are encoded with the library pquerna/otp uses (boombuler/barcode,
// which Key.Image calls) but drawn here: Key.Image scales through the
// generic image interface and costs as much again as the encoding (~35,000
// allocations for 256 px), while a two-colour paletted image with the
// modules filled in directly costs a few hundred.

// pngEncoder reuses the encoder's zlib state (~800 KB) across calls.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

type pngBuffers struct{ pool sync.Pool }

func (p *pngBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }

// quietZone is the blank border required around a QR code, in modules.
const quietZone = 4

// qrModules encodes uri and returns its modules (true = dark) and their
// count per side.
func qrModules(uri string) ([][]bool, error) {
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	n := code.Bounds().Dx()
	dark := make([][]bool, n)
	for y := range n {
		dark[y] = make([]bool, n)
		for x := range n {
			r, _, _, _ := code.At(x, y).RGBA()
			dark[y][x] = r < 0x8000
		}
	}
	return dark, nil
}

// qrPNG draws the modules on a size×size two-colour PNG, centred, each
// module a whole number of pixels. A size too small for the code and its
// quiet zone at one pixel per module is raised to fit.
func qrPNG(dark [][]bool, size int) ([]byte, error) {
	n := len(dark)
	size = max(size, n+2*quietZone)
	scale := max(size/(n+2*quietZone), 1)
	offset := (size - scale*n) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range dark {
		for x, d := range row {
			if !d {
				continue
			}
			for py := offset + y*scale; py < offset+(y+1)*scale; py++ {
				line := img.Pix[py*img.Stride:]
				for px := offset + x*scale; px < offset+(x+1)*scale; px++ {
					line[px] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// qrSVG draws the modules as one SVG path (runs of dark modules per row),
// size×size pixels, scaling without blur.
func qrSVG(dark [][]bool, size int) string {
	n := len(dark)
	side := strconv.Itoa(n + 2*quietZone)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="` + strconv.Itoa(size) + `" height="` + strconv.Itoa(size) +
		`" viewBox="0 0 ` + side + ` ` + side + `" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y, row := range dark {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < n && row[x+run] {
				run++
			}
			b.WriteString("M" + strconv.Itoa(x+quietZone) + " " + strconv.Itoa(y+quietZone) + "h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
