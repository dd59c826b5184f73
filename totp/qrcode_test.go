package totp_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/totp"
)

// The QR code drawn by Begin shows the same modules as pquerna/otp's own
// Key.Image of the URI, at every size, with a quiet zone of 4 modules.
func TestQRCodeMatchesKeyImage(t *testing.T) {
	for _, tc := range []struct {
		size int
		alg  otp.Algorithm
	}{{64, otp.AlgorithmSHA1}, {256, otp.AlgorithmSHA1}, {1000, otp.AlgorithmSHA1}, {64, otp.AlgorithmSHA512}} {
		f := newFixture(t, func(c *totp.Config) { c.QRSize = tc.size; c.Algorithm = tc.alg })
		e, err := f.totp.Begin(context.Background(), userID(1), "alice@example.com")
		require.NoError(t, err)
		key, err := otp.NewKeyFromURL(e.URI)
		require.NoError(t, err)
		// The smallest size Image accepts is one pixel per module.
		ref, err := key.Image(21, 21)
		for w := 25; err != nil && w <= 177; w += 4 {
			ref, err = key.Image(w, w)
		}
		require.NoError(t, err)
		n := ref.Bounds().Dx()

		img, err := png.Decode(bytes.NewReader(e.QRCodePNG))
		require.NoError(t, err)
		size := max(tc.size, n+8)
		require.Equal(t, size, img.Bounds().Dx())
		require.Equal(t, size, img.Bounds().Dy())
		scale := size / (n + 8)
		require.GreaterOrEqual(t, scale, 1, "size %d", size)
		offset := (size - scale*n) / 2
		require.GreaterOrEqual(t, offset, 4*scale, "quiet zone")
		darkModules := 0
		for y := range n {
			for x := range n {
				r, _, _, _ := ref.At(x, y).RGBA()
				want := r < 0x8000
				g, _, _, _ := img.At(offset+x*scale+scale/2, offset+y*scale+scale/2).RGBA()
				require.Equal(t, want, g < 0x8000, "size %d module (%d,%d)", size, x, y)
				if want {
					darkModules++
				}
			}
		}

		// The SVG is well-formed XML and fills as many modules.
		dec := xml.NewDecoder(strings.NewReader(e.QRCodeSVG))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Contains(t, e.QRCodeSVG, `width="`)
		filled := 0
		for _, seg := range strings.Split(e.QRCodeSVG, "M")[1:] {
			var x, y, run int
			_, err := fmt.Sscanf(seg, "%d %dh%d", &x, &y, &run)
			require.NoError(t, err)
			filled += run
		}
		require.Equal(t, darkModules, filled)
	}
}
