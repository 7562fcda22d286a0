package service

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
)

// countingEncoder counts encodings.
type countingEncoder struct{ n atomic.Int32 }

func (e *countingEncoder) EncodeFrame(m broker.Message) []byte {
	e.n.Add(1)
	return messageFrames.EncodeFrame(m)
}

// frameRecorder is a FrameSubscriber that records the frames it gets.
type frameRecorder struct {
	*recorder
	enc    FrameEncoder
	mu     sync.Mutex
	frames [][]byte
}

func (f *frameRecorder) FrameEncoder() FrameEncoder { return f.enc }

func (f *frameRecorder) DeliverFrame(m broker.Message, frame []byte) {
	f.mu.Lock()
	f.frames = append(f.frames, frame)
	f.mu.Unlock()
	f.Deliver(m)
}

// TestHubEncodesOncePerMessage checks that the live fan-out builds one frame
// per message and hands the same bytes to every FrameSubscriber.
func TestHubEncodesOncePerMessage(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	b := newBroker(t, membroker.Options{})
	h := newHub(t, b, HubOptions{})
	enc := &countingEncoder{}
	subs := make([]*frameRecorder, 3)
	for i := range subs {
		subs[i] = &frameRecorder{recorder: newRecorder(), enc: enc}
		if _, err := h.Subscribe(ctx, "c", subs[i]); err != nil {
			t.Fatal(err)
		}
	}
	publishN(t, ctx, b, "c", 4)
	for _, s := range subs {
		s.waitSeqs(t, 1, 4)
	}
	if n := enc.n.Load(); n != 4 {
		t.Fatalf("encoded %d times for 4 messages and 3 subscribers, want 4", n)
	}
	want := `42["message",{"channel":"c","seq":1,"data":{"n":0}}]`
	for _, s := range subs {
		s.mu.Lock()
		got := s.frames[0]
		s.mu.Unlock()
		if string(got) != want {
			t.Fatalf("frame = %s, want %s", got, want)
		}
		if unsafe.SliceData(got) != unsafe.SliceData(subs[0].frames[0]) {
			t.Fatal("subscribers got different copies of one frame")
		}
	}
}
