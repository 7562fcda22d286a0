package socketio

import (
	"errors"
	"fmt"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// PubSubRequest is the argument of the reference services' subscribe,
// unsubscribe and publish events, {"channel":C[,"since":N][,"data":D]}, as
// ReadPubSubRequest finds it. Both the reference Socket.IO service and the
// gateway's edge read it, once per client request.
type PubSubRequest struct {
	Channel    string
	HasChannel bool // false when the member is absent or null
	// Since and Data are the members' raw JSON, subslices of the argument
	// (nil when absent): Since is read by ReadSince, for the events that
	// take it; Data is the published value, passed on verbatim.
	Since []byte
	Data  []byte
}

// ErrNotObject: a request whose argument is not a JSON object.
var ErrNotObject = errors.New("the first argument must be an object")

// ErrBadSince: a since that is not a non-negative integer (or null).
var ErrBadSince = errors.New("since must be a non-negative integer")

// ReadPubSubRequest reads arg, through names (nil: the channel is unquoted
// afresh). A malformed argument or a channel that is not a string is a
// jsonobj.ErrBadJSON, and an argument that is not an object ErrNotObject;
// a missing channel is not an error (HasChannel says). It allocates
// nothing for a channel found in names.
func ReadPubSubRequest(arg []byte, names *Names) (PubSubRequest, error) {
	i := jsonobj.SkipSpace(arg, 0)
	if i >= len(arg) || arg[i] != '{' {
		return PubSubRequest{}, ErrNotObject
	}
	fs := [...]jsonobj.Field{{Key: "channel"}, {Key: "since"}, {Key: "data"}}
	if err := jsonobj.ObjectFields(arg, fs[:]); err != nil {
		return PubSubRequest{}, err
	}
	r := PubSubRequest{Since: fs[1].Raw, Data: fs[2].Raw}
	if raw := fs[0].Raw; raw != nil && !jsonobj.IsNull(raw) {
		ch, err := names.Unquote(raw)
		if err != nil {
			return PubSubRequest{}, fmt.Errorf("%w: channel must be a string", jsonobj.ErrBadJSON)
		}
		r.Channel, r.HasChannel = ch, true
	}
	return r, nil
}

// ReadSince reads the request's since: absent and null mean none.
func (r PubSubRequest) ReadSince() (since uint64, ok bool, err error) {
	if r.Since == nil || jsonobj.IsNull(r.Since) {
		return 0, false, nil
	}
	n, err := jsonobj.Uint64(r.Since)
	if err != nil {
		return 0, false, fmt.Errorf("%w, got %.32s", ErrBadSince, r.Since)
	}
	return n, true, nil
}
