package edge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// ErrOriginNotAllowed refuses a browser request whose Origin is neither the
// gateway's own host nor matched by config edge.origin_patterns (HTTP 403).
var ErrOriginNotAllowed = errors.New("edge: origin not allowed")

// originPolicy is the Origin rule of both listeners. It is the rule that
// coder/websocket's Accept applies with AcceptOptions.OriginPatterns,
// written out so that Socket.IO's long-polling requests, which never reach
// Accept, follow it too:
//   - a request without an Origin header is allowed (not a browser, or a
//     browser that does not send one for a same-origin GET);
//   - an Origin whose host equals the request's Host (case-insensitive)
//     is allowed;
//   - otherwise some pattern must match, case-insensitively with
//     path.Match, the Origin's host ("*.example.com"), or its
//     "scheme://host" when the pattern itself contains "://".
type originPolicy struct {
	patterns []string // lower-cased
}

// newOriginPolicy checks the patterns once, so that matching cannot fail.
func newOriginPolicy(patterns []string) (originPolicy, error) {
	p := originPolicy{patterns: make([]string, 0, len(patterns))}
	for i, pat := range patterns {
		pat = strings.ToLower(pat)
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			return originPolicy{}, fmt.Errorf("edge: edge.origin_patterns[%d]: not a valid pattern: %q", i, pat)
		}
		p.patterns = append(p.patterns, pat)
	}
	return p, nil
}

// check returns nil when r may proceed, else an error matching
// ErrOriginNotAllowed that names the origin and the host.
func (p originPolicy) check(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("%w: Origin %q is not a URL", ErrOriginNotAllowed, origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	host := strings.ToLower(u.Host)
	full := strings.ToLower(u.Scheme) + "://" + host
	for _, pat := range p.patterns {
		target := host
		if strings.Contains(pat, "://") {
			target = full
		}
		if ok, _ := path.Match(pat, target); ok { // patterns were checked
			return nil
		}
	}
	return fmt.Errorf("%w: Origin %q for host %q", ErrOriginNotAllowed, origin, r.Host)
}

// allows reports whether r's Origin passes check; it is the Engine.IO
// server's CORS predicate, so that polling responses name exactly the
// origins that may use them.
func (p originPolicy) allows(r *http.Request) bool { return p.check(r) == nil }

// originOK answers r with 403 and counts it when its Origin is not
// allowed.
func (s *Server) originOK(w http.ResponseWriter, r *http.Request) bool {
	err := s.orig.check(r)
	if err == nil {
		return true
	}
	s.originRejected.Add(1)
	s.log.Debug("edge: origin refused", "path", r.URL.Path, "err", err)
	httpError(w, http.StatusForbidden, err.Error())
	return false
}
