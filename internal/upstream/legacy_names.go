package upstream

import "github.com/baton-rt/baton/internal/wire/legacy"

// legacyNames holds the mapped frame types, with the JSON head of renamed
// request types encoded once.
type legacyNames struct {
	Mapping
	heads map[string][]byte // default type -> `{"type":"<mapped>"` when renamed
}

func newLegacyNames(m Mapping) *legacyNames {
	n := &legacyNames{Mapping: m}
	for def, name := range map[string]string{
		legacy.TypeSubscribe:   m.Subscribe,
		legacy.TypeUnsubscribe: m.Unsubscribe,
		legacy.TypePublish:     m.Publish,
	} {
		if name != def {
			if n.heads == nil {
				n.heads = make(map[string][]byte)
			}
			n.heads[def] = append([]byte(`{"type":`), jsonString(name)...)
		}
	}
	return n
}

// encode writes a pub/sub request frame under its mapped type.
func (n *legacyNames) encode(f legacy.Frame) []byte { return n.append(nil, f) }

// append appends a pub/sub request frame under its mapped type to dst.
func (n *legacyNames) append(dst []byte, f legacy.Frame) []byte {
	head, renamed := n.heads[f.Type]
	if !renamed {
		return legacy.Append(dst, f)
	}
	// Append starts every request with {"type":"<type>"; swap that head.
	start := len(dst)
	b := legacy.Append(dst, f)
	rest := b[start+len(`{"type":"`)+len(f.Type)+1:]
	frame := append(append([]byte(nil), head...), rest...)
	return append(b[:start], frame...)
}
