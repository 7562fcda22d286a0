package edge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/baton-rt/baton/internal/config"
)

// Identity errors; both refuse the connection (HTTP 401, or CONNECT_ERROR
// for a Socket.IO token sent in the auth payload).
var (
	// ErrNoIdentity: the connection carries no user key (or no token).
	ErrNoIdentity = errors.New("edge: no user key")
	// ErrBadToken: the JWT does not verify, has expired, is not valid yet,
	// or lacks the claim.
	ErrBadToken = errors.New("edge: invalid token")
)

// Identifier finds a connection's user key (config.Identity): from a
// verified JWT when configured, else a header, then a query parameter.
type Identifier struct {
	query, header string
	jwt           *config.JWT
	methods       []string
	key           any // []byte for HS256, *rsa.PublicKey for RS256
}

// NewIdentifier returns the identifier for cfg (defaults applied). An
// RS256 key file is read here, once.
func NewIdentifier(cfg config.Identity) (*Identifier, error) {
	id := &Identifier{query: cfg.Query, header: cfg.Header, jwt: cfg.JWT}
	if cfg.JWT == nil {
		if id.query == "" && id.header == "" {
			id.query = config.DefaultIdentityQuery
		}
		return id, nil
	}
	if secret := cfg.JWT.HMACSecret(); len(secret) > 0 {
		id.methods, id.key = []string{jwt.SigningMethodHS256.Alg()}, secret
		return id, nil
	}
	if cfg.JWT.RS256PublicKeyFile == "" {
		return nil, errors.New("edge: identity.jwt: no key (hs256_secret, hs256_secret_env or rs256_public_key_file)")
	}
	pem, err := os.ReadFile(cfg.JWT.RS256PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("edge: identity.jwt.rs256_public_key_file: %w", err)
	}
	pub, err := jwt.ParseRSAPublicKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("edge: identity.jwt.rs256_public_key_file: %w", err)
	}
	id.methods, id.key = []string{jwt.SigningMethodRS256.Alg()}, pub
	return id, nil
}

// UsesJWT reports whether user keys come from tokens.
func (id *Identifier) UsesJWT() bool { return id.jwt != nil }

// User returns the user key of a connection from its request's header and
// query, or, for JWT, from authToken (a Socket.IO auth payload's "token")
// when the request carries none.
func (id *Identifier) User(h http.Header, q url.Values, authToken string) (string, error) {
	if id.jwt != nil {
		tok := bearer(h)
		if tok == "" {
			tok = q.Get(id.jwt.Query)
		}
		if tok == "" {
			tok = authToken
		}
		if tok == "" {
			return "", fmt.Errorf("%w: no token", ErrNoIdentity)
		}
		return id.verify(tok)
	}
	if id.header != "" {
		if u := h.Get(id.header); u != "" {
			return u, nil
		}
	}
	if id.query != "" {
		if u := q.Get(id.query); u != "" {
			return u, nil
		}
	}
	return "", ErrNoIdentity
}

// HasToken reports whether the request itself carries a token, so that a
// bad one can be refused before any handshake.
func (id *Identifier) HasToken(h http.Header, q url.Values) bool {
	return id.jwt != nil && (bearer(h) != "" || q.Get(id.jwt.Query) != "")
}

func (id *Identifier) verify(tok string) (string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) {
		return id.key, nil
	}, jwt.WithValidMethods(id.methods)) // exp and nbf are checked when present
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	u, _ := claims[id.jwt.Claim].(string)
	if u == "" {
		return "", fmt.Errorf("%w: claim %q missing or not a non-empty string", ErrBadToken, id.jwt.Claim)
	}
	return u, nil
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(h http.Header) string {
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}
