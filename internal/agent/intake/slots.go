package intake

import "sync"

// slots is a FIFO counting semaphore whose size can change at run time
// (max_local_concurrent is live config).
type slots struct {
	mu      sync.Mutex
	limit   int
	used    int
	waiters []chan struct{}
}

func newSlots(n int) *slots { return &slots{limit: max(n, 1)} }

// acquire returns a channel closed when the caller holds a slot, and a
// cancel func to call if the caller gives up waiting: cancel reports
// whether the slot had been granted meanwhile (then it is released).
func (s *slots) acquire() (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.used < s.limit && len(s.waiters) == 0 {
		s.used++
		close(ch)
		return ch, func() { s.release() }
	}
	s.waiters = append(s.waiters, ch)
	return ch, func() {
		s.mu.Lock()
		for i, w := range s.waiters {
			if w == ch {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		s.release() // granted between our select and this cancel
	}
}

func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	s.grantLocked()
}

func (s *slots) grantLocked() {
	for s.used < s.limit && len(s.waiters) > 0 {
		close(s.waiters[0])
		s.waiters = s.waiters[1:]
		s.used++
	}
}

func (s *slots) setLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = max(n, 1)
	s.grantLocked()
}

func (s *slots) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}
