package socketio

import "fmt"

// Defaults of Decoder limits, those of the official Node server.
const (
	// DefaultMaxAttachments is the official parser's maxAttachments.
	DefaultMaxAttachments = 10
	// DefaultMaxPacketSize is the official server's maxHttpBufferSize (1 MB).
	DefaultMaxPacketSize = 1_000_000
)

// Message is a packet together with its binary attachments. The
// placeholders in Data that point into Binary are left as they are; a
// Decoder hands out none that points outside it.
type Message struct {
	Packet
	Binary [][]byte
}

// Decoder reassembles binary packets: a BinaryEvent or BinaryAck header
// arrives as a text Engine.IO message and its attachments as the next
// binary Engine.IO messages. Feed every Engine.IO message of one
// connection, in order, to Text or Binary. The zero value is ready to use.
// A Decoder is not safe for concurrent use.
//
// After any error the Decoder is back in its initial state; callers are
// expected to close the connection, as the official server does.
type Decoder struct {
	// MaxAttachments bounds the attachments one packet may announce;
	// 0 means DefaultMaxAttachments.
	MaxAttachments int
	// MaxPacketSize bounds the bytes of a packet: the text, plus all
	// attachments for a binary packet; 0 means DefaultMaxPacketSize.
	MaxPacketSize int

	lastNsp string  // namespace of the previous packet, to reuse its string
	pending Message // header waiting for attachments, when awaiting
	size    int     // bytes of pending so far
	waiting bool
}

func (d *Decoder) maxAttachments() int {
	if d.MaxAttachments > 0 {
		return d.MaxAttachments
	}
	return DefaultMaxAttachments
}

func (d *Decoder) maxPacketSize() int {
	if d.MaxPacketSize > 0 {
		return d.MaxPacketSize
	}
	return DefaultMaxPacketSize
}

// Awaiting reports whether a binary packet is waiting for attachments.
func (d *Decoder) Awaiting() bool { return d.waiting }

// Reset drops a pending binary packet.
func (d *Decoder) Reset() { d.pending, d.size, d.waiting = Message{}, 0, false }

// Text takes the text of an Engine.IO message. A plain packet is returned
// complete at once, its Data aliasing b; the Namespace string of the
// previous packet is reused when it repeats, so steady traffic decodes
// without allocating. The header of a binary packet is
// kept (copied) and complete is false until its attachments have arrived
// through Binary; a header with a placeholder that stands for none of its
// attachments is an ErrBadPacket at once (see checkPlaceholders), where
// the official decoder refuses it after the last attachment.
func (d *Decoder) Text(b []byte) (m Message, complete bool, err error) {
	if d.waiting {
		d.Reset()
		return Message{}, false, ErrUnexpectedText
	}
	if len(b) > d.maxPacketSize() {
		return Message{}, false, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), d.maxPacketSize())
	}
	p, err := decode(b, d.lastNsp)
	if err != nil {
		return Message{}, false, err
	}
	d.lastNsp = p.Namespace
	if !p.Type.IsBinary() {
		return Message{Packet: p}, true, nil
	}
	if p.Attachments > d.maxAttachments() {
		return Message{}, false, fmt.Errorf("%w: %d > %d", ErrTooManyAttachments, p.Attachments, d.maxAttachments())
	}
	// The official decoder refuses such a packet once its attachments are
	// in; refused now, they are not buffered for nothing.
	if err := checkPlaceholders(p.Data, p.Attachments); err != nil {
		return Message{}, false, err
	}
	// The header outlives b, which the caller may reuse.
	p.Data = append([]byte(nil), p.Data...)
	d.pending = Message{Packet: p, Binary: make([][]byte, 0, p.Attachments)}
	d.size = len(b)
	d.waiting = true
	return Message{}, false, nil
}

// Binary takes the data of a binary Engine.IO message: the next attachment
// of the pending binary packet. The Decoder keeps b itself (no copy) in
// Message.Binary, so the caller must not reuse it. When the last attachment
// arrives the Message is returned complete.
func (d *Decoder) Binary(b []byte) (m Message, complete bool, err error) {
	if !d.waiting {
		return Message{}, false, ErrUnexpectedBinary
	}
	d.size += len(b)
	if d.size > d.maxPacketSize() {
		d.Reset()
		return Message{}, false, fmt.Errorf("%w: more than %d bytes with attachments", ErrTooLarge, d.maxPacketSize())
	}
	d.pending.Binary = append(d.pending.Binary, b)
	if len(d.pending.Binary) < d.pending.Attachments {
		return Message{}, false, nil
	}
	m = d.pending
	d.Reset()
	return m, true, nil
}

// Encode returns the text packet and the attachments to send, each as its
// own binary Engine.IO message, after the text. The packet type and the
// attachment count follow m.Binary: an Event or Ack with attachments goes
// out as BinaryEvent or BinaryAck, a binary type without attachments as
// the plain type (the official decoder rejects a count of 0). Other types
// cannot carry attachments; their Binary is ignored and nil is returned.
func Encode(m Message) (text []byte, binary [][]byte) {
	p := m.Packet
	switch {
	case len(m.Binary) > 0 && (p.Type == Event || p.Type == BinaryEvent):
		p.Type, binary = BinaryEvent, m.Binary
	case len(m.Binary) > 0 && (p.Type == Ack || p.Type == BinaryAck):
		p.Type, binary = BinaryAck, m.Binary
	case p.Type == BinaryEvent:
		p.Type = Event
	case p.Type == BinaryAck:
		p.Type = Ack
	}
	p.Attachments = len(binary)
	return Append(nil, p), binary
}
