package eio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Why a session closed. Conn.Err returns one of these (possibly wrapped);
// the names follow the reasons the Node server reports.
var (
	// ErrClosed: the session was closed by the server (Conn.Close); this
	// is also what Send returns on a closed session.
	ErrClosed = errors.New("eio: session closed")
	// ErrClientClose: the client sent a close packet or closed its
	// WebSocket ("transport close").
	ErrClientClose = errors.New("eio: closed by client")
	// ErrPingTimeout: no pong arrived within PingTimeout after a ping.
	ErrPingTimeout = errors.New("eio: ping timeout")
	// ErrParse: the client sent a packet that does not decode ("parse
	// error").
	ErrParse = errors.New("eio: parse error")
	// ErrTransport: the transport failed or the client broke the protocol
	// (overlapping polls, payload too large, a ping from the client...).
	ErrTransport = errors.New("eio: transport error")
	// ErrSlowConsumer: the outbound queue overflowed.
	ErrSlowConsumer = errors.New("eio: slow consumer, outbound queue full")
	// ErrShutdown: the server is shutting down.
	ErrShutdown = errors.New("eio: server shutting down")
	// ErrInvalidFrame: SendFrame was given something other than an
	// Engine.IO message packet.
	ErrInvalidFrame = errors.New("eio: not an Engine.IO message frame")
	// ErrServerClosed: Serve-time calls after Shutdown.
	ErrServerClosed = errors.New("eio: server closed")
)

// Protocol error codes of the HTTP error answers, as in the Node server.
const (
	codeUnknownTransport    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
)

var codeMessages = [...]string{
	codeUnknownTransport:    "Transport unknown",
	codeUnknownSID:          "Session ID unknown",
	codeBadHandshakeMethod:  "Bad handshake method",
	codeBadRequest:          "Bad request",
	codeForbidden:           "Forbidden",
	codeUnsupportedProtocol: "Unsupported protocol version",
}

// requestError is a refused request: its code and, when set, a message
// that replaces the code's standard text.
type requestError struct {
	code    int
	message string
}

func (e requestError) text() string {
	if e.message != "" {
		return e.message
	}
	return codeMessages[e.code]
}

func (e requestError) status() int {
	if e.code == codeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// writeHTTP answers a plain HTTP request the way Node does: the status and
// a JSON body {"code":N,"message":"..."}.
func (e requestError) writeHTTP(w http.ResponseWriter) {
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, e.text()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status())
	_, _ = w.Write(body)
}

// writeUpgrade answers a refused WebSocket upgrade the way Node does: 400
// with the message as text and the connection closed.
func (e requestError) writeUpgrade(w http.ResponseWriter) {
	msg := e.text()
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(msg))
}
