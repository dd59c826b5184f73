package totp

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/pquerna/otp"
)

const benchURI = "otpauth://totp/Example:alice@example.com?algorithm=SHA1&digits=6&issuer=Example&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// BenchmarkQRCode compares, in one run, pquerna/otp's Key.Image encoded
// as PNG with the drawing Begin uses, and the QR encoding both share.
func BenchmarkQRCode(b *testing.B) {
	key, err := otp.NewKeyFromURL(benchURI)
	if err != nil {
		b.Fatal(err)
	}
	modules, err := qrModules(benchURI)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := qrModules(benchURI); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("KeyImage+png", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			img, err := key.Image(256, 256)
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("draw png", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := qrPNG(modules, 256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("draw svg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = qrSVG(modules, 256)
		}
	})
}
