package app

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// staticCacheControl lets a browser reuse /static files for five minutes
// without asking, then revalidate them with If-None-Match (304, no body).
const staticCacheControl = "public, max-age=300"

// staticFile is one embedded file, prepared once: its type, ETag, and a
// gzip copy when that is smaller.
type staticFile struct {
	contentType string
	etag        string // strong, of the identity bytes
	body        []byte
	gz          []byte // nil: not worth compressing
}

// staticFiles serves embedded files with ETag, Cache-Control and gzip (when
// the client accepts it). Anything else is passed to notFound.
type staticFiles struct {
	files    map[string]*staticFile // by path without the leading slash
	notFound http.Handler
}

func newStaticFiles(fsys fs.FS, dir string, notFound http.Handler) (*staticFiles, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	s := &staticFiles{files: map[string]*staticFile{}, notFound: notFound}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &staticFile{
			contentType: mime.TypeByExtension(path.Ext(name)),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			body:        body,
		}
		if f.contentType == "" {
			f.contentType = "application/octet-stream"
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		if buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
		s.files[name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app: reading static files: %w", err)
	}
	return s, nil
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		s.notFound.ServeHTTP(w, r)
		return
	}
	body, etag := f.body, f.etag
	h := w.Header()
	if f.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			// A representation of its own: its own ETag.
			body, etag = f.gz, f.gzipETag()
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", staticCacheControl)
	h.Set("ETag", etag)
	// Either tag names the same file: a client holding one has it.
	if inm := r.Header.Get("If-None-Match"); etagMatch(inm, f.etag) || etagMatch(inm, f.gzipETag()) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// gzipETag is the ETag of the gzip body, a representation of its own.
func (f *staticFile) gzipETag() string { return strings.TrimSuffix(f.etag, `"`) + `-gz"` }

// acceptsGzip reports whether an Accept-Encoding header allows gzip (and
// does not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// etagMatch implements If-None-Match's weak comparison: "*", or any listed
// tag equal to etag with or without W/.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
