// Package live fans server-side events out to dashboard clients over
// Server-Sent Events. Publishing never blocks: every client has a bounded
// buffer, and a client that cannot keep up is disconnected (its browser
// reconnects and refetches) rather than slowing the projectors down.
package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultBuffer       = 256
	defaultPingInterval = 15 * time.Second
)

// Hub is an SSE broadcaster. The zero value is not usable; call NewHub.
type Hub struct {
	logger       *slog.Logger
	bufSize      int
	pingInterval time.Duration

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	seq     atomic.Uint64
	dropped atomic.Uint64
}

type client struct {
	ch   chan message
	kick chan struct{} // closed when the hub drops the client
	once sync.Once
}

// message is one framed event and what a filter reads of it.
type message struct {
	typ  string
	data []byte
	msg  []byte // the framed SSE event
}

func (c *client) drop() { c.once.Do(func() { close(c.kick) }) }

// NewHub returns a hub with a 256-message buffer per client and a 15 s ping.
func NewHub(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{
		logger:       logger,
		bufSize:      defaultBuffer,
		pingInterval: defaultPingInterval,
		clients:      make(map[*client]struct{}),
	}
}

// Clients reports how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped reports how many clients were disconnected for being too slow.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Publish sends one event to every connected client without blocking. data
// is encoded as JSON once; a client whose buffer is full is dropped.
func (h *Hub) Publish(eventType string, data any) {
	payload, err := json.Marshal(data)
	if err != nil {
		h.logger.Warn("live: encode event", "event", eventType, "err", err)
		return
	}
	h.send(eventType, payload)
}

// PublishJSON sends an event whose data is already JSON (relayed from
// another replica). Invalid JSON is refused; the payload is compacted so
// it holds no newline that could break the stream framing.
func (h *Hub) PublishJSON(eventType string, payload []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, payload); err != nil {
		return fmt.Errorf("live event %q: %w", eventType, err)
	}
	h.send(eventType, buf.Bytes())
	return nil
}

func (h *Hub) send(eventType string, payload []byte) {
	// Event names come from our own code, but a newline would corrupt the
	// stream framing for every client, so strip them defensively.
	eventType = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, eventType)
	id := h.seq.Add(1)
	msg := message{typ: eventType, data: payload,
		msg: []byte(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, eventType, payload))}

	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.ch <- msg:
		default:
			delete(h.clients, c)
			c.drop()
			h.dropped.Add(1)
			h.logger.Warn("live: dropping slow client", "buffer", h.bufSize)
		}
	}
}

// Close disconnects every client and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		c.drop()
	}
}

func (h *Hub) add() (*client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	c := &client{ch: make(chan message, h.bufSize), kick: make(chan struct{})}
	h.clients[c] = struct{}{}
	return c, true
}

func (h *Hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// ServeHTTP streams events until the client goes away or is dropped.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.ServeFiltered(w, r, nil) }

// ServeFiltered is ServeHTTP sending only the events keep accepts (nil =
// all): a scoped caller's stream (internal/api). keep runs on the
// client's own goroutine, never under the hub's lock.
func (h *Hub) ServeFiltered(w http.ResponseWriter, r *http.Request, keep func(eventType string, data []byte) bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, `{"error":"method not allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	rc := http.NewResponseController(w)
	c, ok := h.add()
	if !ok {
		http.Error(w, `{"error":"shutting down"}`, http.StatusServiceUnavailable)
		return
	}
	defer h.remove(c)

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache, no-transform")
	hdr.Set("Connection", "keep-alive")
	hdr.Set("X-Accel-Buffering", "no") // stop reverse proxies from buffering the stream
	w.WriteHeader(http.StatusOK)
	// retry tells EventSource how soon to reconnect; the comment makes the
	// browser see the stream as open at once.
	if _, err := fmt.Fprint(w, "retry: 3000\n: connected\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		h.logger.Warn("live: response cannot flush", "err", err)
		return
	}

	ping := time.NewTicker(h.pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.kick:
			return
		case m := <-c.ch:
			if keep == nil || keep(m.typ, m.data) {
				if _, err := w.Write(m.msg); err != nil {
					return
				}
			}
			// Drain what is already queued before flushing once.
			for n := len(c.ch); n > 0; n-- {
				m := <-c.ch
				if keep != nil && !keep(m.typ, m.data) {
					continue
				}
				if _, err := w.Write(m.msg); err != nil {
					return
				}
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
