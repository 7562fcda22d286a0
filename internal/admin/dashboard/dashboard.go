// Package dashboard serves the admin API's web dashboard: a few static
// files (HTML, CSS, JavaScript modules, an icon) embedded in the binary.
//
// The files hold no data and need no token; the page asks the operator for
// the admin token, keeps it in the tab's sessionStorage and sends it as
// Authorization: Bearer on every API call, which the API checks as always.
// Every answer carries a strict Content-Security-Policy (scripts, styles
// and connections from the admin origin only, nothing inline, no framing),
// Referrer-Policy: no-referrer and X-Content-Type-Options: nosniff.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard/"

// CSP is the Content-Security-Policy of every dashboard answer.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// types are the content types of the files served, by extension; a file
// of any other kind is not served.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file, read once.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the dashboard's files under Prefix.
type Handler struct {
	assets map[string]asset // by name under Prefix; "" is index.html
}

// New returns the handler of the embedded files.
func New() *Handler {
	h := &Handler{assets: make(map[string]asset)}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := types[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: reading the embedded files: " + err.Error()) // a broken build
	}
	h.assets[""] = h.assets["index.html"]
	return h
}

// Owns reports whether a request is the dashboard's to answer: a GET or
// HEAD of "/", "/dashboard" or a path under Prefix. Everything else is the
// API's (and needs the token).
func Owns(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return p == "/" || p == "/dashboard" || strings.HasPrefix(p, Prefix)
}

// ServeHTTP answers a request Owns: "/" and "/dashboard" redirect to
// Prefix, a known file is served, anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	if r.URL.Path == "/" || r.URL.Path == "/dashboard" {
		http.Redirect(w, r, Prefix, http.StatusFound)
		return
	}
	a, ok := h.assets[strings.TrimPrefix(r.URL.Path, Prefix)]
	if !ok {
		http.Error(w, "404 no such dashboard file", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// Revalidated on every load: a new build is picked up at once, an
	// unchanged file costs a 304.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
