package live

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type sseEvent struct {
	id, event, data string
	comment         string
}

// readEvents parses the SSE stream into frames until the body ends.
func readEvents(body io.Reader, out chan<- sseEvent) {
	defer close(out)
	sc := bufio.NewScanner(body)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out <- cur
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			cur.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
}

func connect(t *testing.T, ctx context.Context, url string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ch := make(chan sseEvent, 64)
	go readEvents(resp.Body, ch)
	return ch, resp
}

func next(t *testing.T, ch <-chan sseEvent, skipComments bool) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if skipComments && ev.event == "" {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event")
		}
	}
}

func TestPublishReachesClients(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a, respA := connect(t, ctx, srv.URL)
	defer respA.Body.Close()
	b, respB := connect(t, ctx, srv.URL)
	defer respB.Body.Close()
	if ct := respA.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content-type %q", ct)
	}
	waitFor(t, "two clients", func() bool { return h.Clients() == 2 })

	h.Publish("result", map[string]any{"result_id": "r1", "exit_code": 0})
	h.Publish("agent", map[string]any{"pc_id": "pc-1", "online": true})
	for _, ch := range []<-chan sseEvent{a, b} {
		ev := next(t, ch, true)
		if ev.event != "result" || ev.id == "" {
			t.Fatalf("first event %+v", ev)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || got["result_id"] != "r1" {
			t.Fatalf("data %q err %v", ev.data, err)
		}
		if ev := next(t, ch, true); ev.event != "agent" {
			t.Fatalf("second event %+v", ev)
		}
	}
}

func TestPingComment(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	h.pingInterval = 20 * time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, resp := connect(t, ctx, srv.URL)
	defer resp.Body.Close()
	for {
		ev := next(t, ch, false)
		if ev.comment == "ping" {
			return
		}
	}
}

func TestClientDisconnectIsRemoved(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	_, resp := connect(t, ctx, srv.URL)
	waitFor(t, "client", func() bool { return h.Clients() == 1 })
	cancel()
	resp.Body.Close()
	waitFor(t, "client removed", func() bool { return h.Clients() == 0 })
	h.Publish("agent", map[string]any{"pc_id": "x"}) // no clients: must not block or panic
}

// A client that never reads fills its socket buffers, then its hub buffer,
// and is dropped while a healthy client keeps receiving.
func TestSlowClientIsDropped(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	h.bufSize = 4
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, slow := connect(t, ctx, srv.URL) // never read
	defer slow.Body.Close()
	waitFor(t, "slow client", func() bool { return h.Clients() == 1 })

	big := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for h.Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow client never dropped")
		}
		h.Publish("result", map[string]string{"blob": big})
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "slow client removed", func() bool { return h.Clients() == 0 })

	fast, resp := connect(t, ctx, srv.URL)
	defer resp.Body.Close()
	waitFor(t, "fast client", func() bool { return h.Clients() == 1 })
	h.Publish("execution", map[string]string{"exec_id": "e1"})
	if ev := next(t, fast, true); ev.event != "execution" {
		t.Fatalf("got %+v", ev)
	}
}

func TestPublishNeverBlocksUnit(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	h.bufSize = 2
	c, ok := h.add()
	if !ok {
		t.Fatal("add refused")
	}
	for i := 0; i < 5; i++ {
		h.Publish("agent", i)
	}
	select {
	case <-c.kick:
	default:
		t.Fatal("client with a full buffer was not kicked")
	}
	if h.Clients() != 0 || h.Dropped() != 1 {
		t.Fatalf("clients %d dropped %d", h.Clients(), h.Dropped())
	}
}

func TestConcurrentPublishAndClose(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, resp := connect(t, ctx, srv.URL)
	defer resp.Body.Close()
	waitFor(t, "client", func() bool { return h.Clients() == 1 })

	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				h.Publish("started", map[string]int{"g": g, "i": i})
			}
		}(g)
	}
	wg.Wait()
	h.Close()
	// The stream must end once the hub closes.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				if h.Clients() != 0 {
					t.Fatal("clients left after close")
				}
				r, err := http.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				if r.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("after close: %d", r.StatusCode)
				}
				return
			}
		case <-timeout:
			t.Fatal("stream did not end after Close")
		}
	}
}

func TestEventNameNewlinesStripped(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	c, _ := h.add()
	h.Publish("bad\nevent: x", 1)
	msg := string((<-c.ch).msg)
	if strings.Count(msg, "\n") != 4 || !strings.Contains(msg, "event: badevent: x\n") {
		t.Fatalf("frame %q", msg)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/events", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("code %d", rec.Code)
	}
}
