package demo

import "time"

// maxMissing bounds the seqs one stream remembers as missing (to tell a
// late message from a duplicate). Past it, further gaps are still counted
// as lost but a late arrival of one of them would count as a duplicate.
const maxMissing = 4096

// stream checks one client's view of one channel: every seq after the
// subscribe ack exactly once, in order. Not safe for concurrent use: its
// client's mutex guards it.
type stream struct {
	acked bool
	next  uint64   // next seq expected, once acked
	early []uint64 // seqs that arrived before the ack (bounded by the client's buffer)

	received   uint64
	duplicates uint64
	outOfOrder uint64
	missing    map[uint64]struct{} // skipped seqs that may still come
	lostBeyond uint64              // skipped seqs not remembered (maxMissing)
}

// ack records the channel's position when the subscription took effect and
// replays what arrived before it.
func (s *stream) ack(pos uint64) {
	s.acked, s.next = true, pos+1
	early := s.early
	s.early = nil
	for _, seq := range early {
		s.check(seq)
	}
}

// message records one delivered seq.
func (s *stream) message(seq uint64) {
	s.received++
	if !s.acked {
		if len(s.early) < maxMissing {
			s.early = append(s.early, seq)
		}
		return
	}
	s.check(seq)
}

func (s *stream) check(seq uint64) {
	switch {
	case seq == s.next:
		s.next++
	case seq > s.next:
		for m := s.next; m < seq; m++ {
			if s.missing == nil {
				s.missing = make(map[uint64]struct{})
			}
			if len(s.missing) < maxMissing {
				s.missing[m] = struct{}{}
			} else {
				s.lostBeyond++
			}
		}
		s.next = seq + 1
	default:
		if _, ok := s.missing[seq]; ok {
			delete(s.missing, seq)
			s.outOfOrder++
		} else {
			s.duplicates++
		}
	}
}

// have is the highest seq reached without counting later gaps.
func (s *stream) have() uint64 {
	if !s.acked || s.next == 0 {
		return 0
	}
	return s.next - 1
}

// lost counts the seqs up to last that never arrived.
func (s *stream) lost(last uint64) uint64 {
	n := uint64(len(s.missing)) + s.lostBeyond
	if h := s.have(); h < last {
		n += last - h
	}
	return n
}

// pauses tracks the largest gap between two deliveries to one client while
// the publisher runs at a steady rate. Guarded by the client's mutex.
type pauses struct {
	last time.Time
	max  time.Duration
}

// delivered notes a delivery at now; from is when measuring began (zero:
// not measuring yet).
func (p *pauses) delivered(now, from time.Time) {
	if from.IsZero() {
		return
	}
	start := p.last
	if start.Before(from) {
		start = from
	}
	if gap := now.Sub(start); gap > p.max {
		p.max = gap
	}
	p.last = now
}

// end closes the measurement at to: a client that stopped receiving shows
// the whole silence.
func (p *pauses) end(from, to time.Time) time.Duration {
	if from.IsZero() {
		return p.max
	}
	start := p.last
	if start.Before(from) {
		start = from
	}
	if gap := to.Sub(start); gap > p.max {
		return gap
	}
	return p.max
}
