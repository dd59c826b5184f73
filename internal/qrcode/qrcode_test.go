package qrcode_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/qrcode"
)

var inputs = []string{
	"https://example.com/link?code=ABCD-EFGH",
	"http://localhost:8080/link?code=K7QX-94MZ",
	strings.Repeat("x", qrcode.MaxInput), // the largest accepted
}

// The modules are boombuler's own matrix, module for module; the PNG shows
// them at every size with the quiet zone; the SVG is well-formed and fills
// exactly the dark modules.
func TestRoundTrip(t *testing.T) {
	for _, text := range inputs {
		ref, err := qr.Encode(text, qr.M, qr.Auto)
		require.NoError(t, err)
		dark, err := qrcode.Modules(text)
		require.NoError(t, err)
		n := ref.Bounds().Dx()
		require.Len(t, dark, n)
		darkCount := 0
		for y := range n {
			require.Len(t, dark[y], n)
			for x := range n {
				r, _, _, _ := ref.At(x, y).RGBA()
				require.Equal(t, r < 0x8000, dark[y][x], "module (%d,%d)", x, y)
				if dark[y][x] {
					darkCount++
				}
			}
		}
		checkStructure(t, dark)

		for _, size := range []int{1, 64, 256, 1000, 5000} {
			b, err := qrcode.PNG(dark, size)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(b))
			require.NoError(t, err)
			want := max(min(size, qrcode.MaxSize), n+2*qrcode.QuietZone)
			require.Equal(t, want, img.Bounds().Dx(), "size %d", size)
			require.Equal(t, want, img.Bounds().Dy())
			scale := want / (n + 2*qrcode.QuietZone)
			offset := (want - scale*n) / 2
			require.GreaterOrEqual(t, offset, qrcode.QuietZone*scale, "quiet zone")
			for y := range n {
				for x := range n {
					g, _, _, _ := img.At(offset+x*scale+scale/2, offset+y*scale+scale/2).RGBA()
					require.Equal(t, dark[y][x], g < 0x8000, "size %d module (%d,%d)", size, x, y)
				}
			}
			// The quiet zone is blank.
			for i := 0; i < offset; i++ {
				g, _, _, _ := img.At(i, i).RGBA()
				require.GreaterOrEqual(t, g, uint32(0x8000))
			}
		}

		svg := qrcode.SVG(dark, 5000)
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Contains(t, svg, fmt.Sprintf(`width="%d"`, qrcode.MaxSize))
		require.Contains(t, svg, fmt.Sprintf(`viewBox="0 0 %d %d"`, n+8, n+8))
		filled := 0
		covered := make(map[[2]int]bool)
		for _, seg := range strings.Split(svg, "M")[1:] {
			var x, y, run int
			_, err := fmt.Sscanf(seg, "%d %dh%d", &x, &y, &run)
			require.NoError(t, err)
			for i := range run {
				require.True(t, dark[y-4][x-4+i], "SVG fills a light module (%d,%d)", x-4+i, y-4)
				covered[[2]int{x - 4 + i, y - 4}] = true
			}
			filled += run
		}
		require.Equal(t, darkCount, filled)
		require.Len(t, covered, darkCount)
	}
}

// checkStructure reads what a scanner reads first: the three finder
// patterns, the timing patterns, the dark module, and both copies of the
// format information (a valid BCH code word naming error correction level
// M), as ZXing's Detector and FormatInformation do.
func checkStructure(t *testing.T, dark [][]bool) {
	t.Helper()
	n := len(dark)
	require.Equal(t, 0, (n-17)%4, "a QR code is 17+4v modules wide")
	require.True(t, (n-17)/4 >= 1 && (n-17)/4 <= 40)
	at := func(x, y int) bool { return dark[y][x] }
	for _, c := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		for dy := range 7 {
			for dx := range 7 {
				ring := max(abs(dx-3), abs(dy-3))
				require.Equal(t, ring != 2, at(c[0]+dx, c[1]+dy), "finder at %v (%d,%d)", c, dx, dy)
			}
		}
	}
	for i := 8; i < n-8; i++ {
		require.Equal(t, i%2 == 0, at(i, 6), "horizontal timing %d", i)
		require.Equal(t, i%2 == 0, at(6, i), "vertical timing %d", i)
	}
	require.True(t, at(8, n-8), "the dark module")

	bit := func(bits, x, y int) int {
		if at(x, y) {
			return bits<<1 | 1
		}
		return bits << 1
	}
	f1 := 0
	for i := range 6 {
		f1 = bit(f1, i, 8)
	}
	f1 = bit(f1, 7, 8)
	f1 = bit(f1, 8, 8)
	f1 = bit(f1, 8, 7)
	for j := 5; j >= 0; j-- {
		f1 = bit(f1, 8, j)
	}
	f2 := 0
	for j := n - 1; j >= n-7; j-- {
		f2 = bit(f2, 8, j)
	}
	for i := n - 8; i < n; i++ {
		f2 = bit(f2, i, 8)
	}
	require.Equal(t, f1, f2, "both copies of the format information agree")
	found := false
	for data := range 32 {
		code := data << 10
		rem := code
		for i := 14; i >= 10; i-- {
			if rem&(1<<i) != 0 {
				rem ^= 0x537 << (i - 10)
			}
		}
		if (code|rem)^0x5412 == f1 {
			require.Equal(t, 0, data>>3, "error correction level M")
			found = true
		}
	}
	require.True(t, found, "format information %015b is a valid code word", f1)
}

func abs(x int) int { return max(x, -x) }

// Empty and oversized texts are refused before any encoding work.
func TestInputBounds(t *testing.T) {
	_, err := qrcode.Modules("")
	require.ErrorIs(t, err, qrcode.ErrInput)
	_, err = qrcode.Modules(strings.Repeat("x", qrcode.MaxInput+1))
	require.ErrorIs(t, err, qrcode.ErrInput)
	allocs := testing.AllocsPerRun(10, func() { _, _ = qrcode.Modules(strings.Repeat("x", 1<<20)) })
	require.LessOrEqual(t, allocs, 2.0, "an oversized text costs no encoding")
}

// BenchmarkApprovalURL is what link/start pays per request for its QR
// code: encoding an approval URL and drawing it as SVG (and as PNG, for
// comparison).
func BenchmarkApprovalURL(b *testing.B) {
	const url = "https://accounts.example.com/link#code=7KQ2M-XD94B"
	b.Run("encode+svg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := qrcode.Modules(url)
			if err != nil {
				b.Fatal(err)
			}
			_ = qrcode.SVG(m, 256)
		}
	})
	b.Run("encode+png", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := qrcode.Modules(url)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := qrcode.PNG(m, 256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
