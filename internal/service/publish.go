package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/baton-rt/baton/internal/broker"
)

// PublishPath is where both reference services mount PublishHandler.
const PublishPath = "/api/v1/publish"

// PublishHandler serves POST {"channel":"C","data":<any JSON>} and answers
// 200 {"seq":N}. Bad input gets 400 {"error":"..."}, a body over maxBytes
// gets 413, a method other than POST 405. data is passed to the broker as
// the exact bytes of the request, never re-encoded. Unknown fields are
// ignored.
func PublishHandler(b broker.Broker, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
			return
		}
		var req struct {
			Channel *string         `json:"channel"`
			Data    json.RawMessage `json:"data"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
		err := dec.Decode(&req)
		if err == nil {
			if err = dec.Decode(&struct{}{}); err == io.EOF {
				err = nil
			} else if !isMaxBytes(err) {
				err = errors.New("data after the JSON object")
			}
		}
		if err != nil {
			if isMaxBytes(err) {
				writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("message_too_large: body over %d bytes", maxBytes))
				return
			}
			writeJSONError(w, http.StatusBadRequest, "bad_request: "+err.Error())
			return
		}
		switch {
		case req.Channel == nil:
			writeJSONError(w, http.StatusBadRequest, `bad_request: missing field "channel"`)
			return
		case req.Data == nil:
			writeJSONError(w, http.StatusBadRequest, `bad_request: missing field "data"`)
			return
		}
		if err := broker.ValidChannel(*req.Channel); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid_channel: "+err.Error())
			return
		}
		if err := checkData(req.Data); err != nil {
			writeJSONError(w, http.StatusBadRequest, "bad_request: "+err.Error())
			return
		}
		m, err := b.Publish(r.Context(), *req.Channel, req.Data)
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, "internal: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(strconv.AppendUint([]byte(`{"seq":`), m.Seq, 10))
		_, _ = w.Write([]byte("}\n"))
	})
}

func isMaxBytes(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	_, _ = w.Write(append(b, '\n'))
}
