package totp

import "github.com/webauthnkit/webauthnkit/internal/qrcode"

// QR codes are encoded with the library pquerna/otp uses (boombuler/barcode,
// which Key.Image calls) but drawn by internal/qrcode: Key.Image scales
// through the generic image interface and costs as much again as the
// encoding (~35,000 allocations for 256 px), while a two-colour paletted
// image with the modules filled in directly costs a few hundred.

// qrModules encodes uri and returns its modules (true = dark).
func qrModules(uri string) ([][]bool, error) { return qrcode.Modules(uri) }

// qrPNG draws the modules on a size×size two-colour PNG (qrcode.PNG).
func qrPNG(dark [][]bool, size int) ([]byte, error) { return qrcode.PNG(dark, size) }

// qrSVG draws the modules as one SVG path (qrcode.SVG).
func qrSVG(dark [][]bool, size int) string { return qrcode.SVG(dark, size) }
