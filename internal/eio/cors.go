package eio

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// preflightMethods is what the Node cors middleware allows by default.
const preflightMethods = "GET,HEAD,PUT,PATCH,POST,DELETE"

// apply sets the cross-origin headers for r on w, following the npm
// cors middleware the Node server uses. It reports whether r was a
// preflight request, which it has then answered (204).
func (c CORS) apply(w http.ResponseWriter, r *http.Request) (answered bool) {
	if !c.setHeaders(w, r) || r.Method != http.MethodOptions {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", preflightMethods)
	if c.Headers != nil {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.Headers, ","))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// setHeaders sets on w the cross-origin headers of any answer to r, and
// reports whether CORS is on.
func (c CORS) setHeaders(w http.ResponseWriter, r *http.Request) bool {
	if len(c.Origins) == 0 && c.AllowOrigin == nil {
		return false
	}
	h := w.Header()
	origin := r.Header.Get("Origin")
	wildcard := slices.Contains(c.Origins, "*")
	switch {
	case wildcard && !c.Credentials:
		h.Set("Access-Control-Allow-Origin", "*")
	case wildcard || (origin != "" && c.allows(r, origin)):
		if origin != "" {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Add("Vary", "Origin")
	default:
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	return true
}

// allows reports whether the non-empty origin of r is listed or passes
// AllowOrigin.
func (c CORS) allows(r *http.Request, origin string) bool {
	return slices.Contains(c.Origins, origin) || (c.AllowOrigin != nil && c.AllowOrigin(r))
}
