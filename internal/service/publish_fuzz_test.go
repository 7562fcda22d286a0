package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
)

// FuzzPublishBody posts arbitrary bodies to POST /api/v1/publish. Each is
// answered 200 {"seq":N}, 400 or 413 with a JSON error, never a panic or a
// 500; a 200 exactly when encoding/json reads one object with a valid
// channel and data, and then the broker holds that data byte for byte as
// the message N of that channel.
func FuzzPublishBody(f *testing.F) {
	for _, s := range []string{
		`{"channel":"news","data":{"text":"hi"}}`, `{"channel":"c","data":null}`, `{"channel":"c","data": [1, 2] }`,
		`{"channel":"c"}`, `{"data":1}`, `{"channel":"","data":1}`, `{"channel":1,"data":1}`, `{"channel":"c","data":1}x`,
		`{"channel":"c","data":1} {}`, `{"channel":"c","data":1,"extra":2}`, `{"Channel":"c","data":1}`, `[]`, `null`, ``,
		`{"channel":"c","data":` + string(bytes.Repeat([]byte("["), 600)) + string(bytes.Repeat([]byte("]"), 600)) + `}`,
		`{"channel":"c","data":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	const maxBytes = 256
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := membroker.New(membroker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Close() }()
		w := httptest.NewRecorder()
		PublishHandler(b, maxBytes).ServeHTTP(w, httptest.NewRequest(http.MethodPost, PublishPath, bytes.NewReader(body)))

		var e struct{ Error string }
		switch w.Code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("body %q: %d %q", body, w.Code, w.Body)
			}
			if ch, data, ok := stdPublish(body); ok && len(body) <= maxBytes && checkData(data) == nil {
				t.Fatalf("body %q refused (%s); encoding/json reads channel %q data %s", body, e.Error, ch, data)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("body %q: %d %q", body, w.Code, w.Body)
		}
		ch, data, ok := stdPublish(body)
		if !ok || len(body) > maxBytes {
			t.Fatalf("body %q accepted; encoding/json does not read it", body)
		}
		var ans struct{ Seq uint64 }
		if json.Unmarshal(w.Body.Bytes(), &ans) != nil || ans.Seq == 0 {
			t.Fatalf("answer %q", w.Body)
		}
		msgs, _, err := b.History(context.Background(), ch, ans.Seq-1, 1)
		if err != nil || len(msgs) != 1 || msgs[0].Seq != ans.Seq || !bytes.Equal(msgs[0].Data, data) {
			t.Fatalf("body %q: stored %+v, %v; want data %s", body, msgs, err, data)
		}
	})
}

// stdPublish reads body as the API documents it, with encoding/json alone.
func stdPublish(body []byte) (channel string, data json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v struct {
		Channel *string         `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if dec.Decode(&v) != nil || v.Channel == nil || v.Data == nil || broker.ValidChannel(*v.Channel) != nil {
		return "", nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, false
	}
	return *v.Channel, v.Data, true
}
