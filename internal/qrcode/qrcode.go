// Package qrcode encodes short texts (a URL) as QR codes and draws them as
// PNG or SVG on the server, so that pages need no client-side QR library.
//
// Encoding is boombuler/barcode's (the library pquerna/otp uses); drawing
// is done here: a two-colour paletted PNG with the modules filled in
// directly, and an SVG of one path, cost a few hundred allocations where
// scaling through the generic image interface costs tens of thousands.
// totp (enrolment QR codes) and httpadapter (device linking) use it.
package qrcode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"sync"

	"github.com/boombuler/barcode/qr"
)

// MaxInput bounds the text of one code in bytes. A QR code of error
// correction level M holds at most 2,331 bytes; 1,024 is far above any URL
// this library encodes and keeps the encoding cost (CPU, a matrix of at
// most 125×125 modules) bounded whatever a caller passes.
const MaxInput = 1024

// MaxSize bounds the pixel size of PNG and SVG (larger sizes are lowered
// to it): a PNG of MaxSize×MaxSize is a 1 MB image in memory.
const MaxSize = 1024

// QuietZone is the blank border required around a QR code, in modules.
const QuietZone = 4

// ErrInput is returned by Modules for an empty text or one above MaxInput.
var ErrInput = errors.New("qrcode: the text must have 1 to 1024 bytes")

// Modules encodes text (error correction level M, the mode chosen by the
// content) and returns its modules, true for dark, indexed [y][x].
func Modules(text string) ([][]bool, error) {
	if text == "" || len(text) > MaxInput {
		return nil, ErrInput
	}
	code, err := qr.Encode(text, qr.M, qr.Auto)
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

// pngEncoder reuses the encoder's zlib state (~800 KB) across calls.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

type pngBuffers struct{ pool sync.Pool }

func (p *pngBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }

// PNG draws the modules on a size×size two-colour PNG, centred, each
// module a whole number of pixels. A size too small for the code and its
// quiet zone at one pixel per module is raised to fit; one above MaxSize is
// lowered to it.
func PNG(dark [][]bool, size int) ([]byte, error) {
	n := len(dark)
	size = max(min(size, MaxSize), n+2*QuietZone)
	scale := max(size/(n+2*QuietZone), 1)
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

// SVG draws the modules as one SVG path (runs of dark modules per row),
// size×size pixels (at most MaxSize), scaling without blur. The document
// holds only numbers: no text of the input reaches it.
func SVG(dark [][]bool, size int) string {
	n := len(dark)
	size = max(min(size, MaxSize), 1)
	side := strconv.Itoa(n + 2*QuietZone)
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
			b.WriteString("M" + strconv.Itoa(x+QuietZone) + " " + strconv.Itoa(y+QuietZone) + "h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
