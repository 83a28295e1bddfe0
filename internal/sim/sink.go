package sim

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// publisher is the in-memory stand-in for the agent's durable outbox: one
// per connection, shared by its agents (intake.Sink). It publishes in
// order with PubAck, keeps a message until acknowledged, and retries with
// the same msg id (the stream's duplicate window and the projectors'
// idempotence make a retry harmless). Unlike the real outbox it is not
// durable: the simulator process itself is not the thing under test.
type publisher struct {
	c      *conn
	mu     sync.Mutex
	queue  []entry
	notify chan struct{}
}

type entry struct {
	subject, msgID string
	payload        []byte
}

func newPublisher(c *conn) *publisher {
	return &publisher{c: c, notify: make(chan struct{}, 1)}
}

// Put implements intake.Sink.
func (p *publisher) Put(subject, msgID string, payload []byte) error {
	p.mu.Lock()
	p.queue = append(p.queue, entry{subject, msgID, payload})
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
	return nil
}

func (p *publisher) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// run drains the queue in windows of up to 256 async publishes.
func (p *publisher) run(ctx context.Context) {
	st := &p.c.f.stats
	backoff := 100 * time.Millisecond
	for {
		p.mu.Lock()
		n := min(len(p.queue), 256)
		batch := append([]entry(nil), p.queue[:n]...)
		p.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.notify:
			}
			continue
		}
		if !p.c.nc.IsConnected() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		futs := make([]jetstream.PubAckFuture, 0, n)
		failedAt := -1
		for i, e := range batch {
			f, err := p.c.js.PublishAsync(e.subject, e.payload, jetstream.WithMsgID(e.msgID))
			if err != nil {
				st.publishErrors.Add(1)
				failedAt = i
				break
			}
			futs = append(futs, f)
		}
		// Acks arrive in order for one connection; the first failure
		// decides how much of the batch is done.
		done := len(futs)
		for i, f := range futs {
			select {
			case <-f.Ok():
			case <-f.Err():
				st.publishErrors.Add(1)
				done = min(done, i)
			case <-time.After(15 * time.Second):
				st.publishErrors.Add(1)
				done = min(done, i)
			}
		}
		if failedAt >= 0 {
			done = min(done, failedAt)
		}
		for _, e := range batch[:done] {
			if strings.HasPrefix(e.subject, "results.") {
				st.resultsSent.Add(1)
			} else {
				st.startedSent.Add(1)
			}
		}
		p.mu.Lock()
		p.queue = p.queue[done:]
		p.mu.Unlock()
		if done < n {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}
