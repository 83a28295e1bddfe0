package live

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
)

func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start() // returns once listening; running it in a goroutine races with Shutdown
	if !s.ReadyForConnections(10e9) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// replica is one backend's hub + relay on its own broker connection.
func replica(t *testing.T, url string) (*Hub, *Relay, string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h := NewHub(quietLogger())
	r, err := NewRelay(nc, h, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := nc.Flush(); err != nil { // the subscription is registered
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, r, srv.URL
}

// An event published by one replica reaches the clients of every replica,
// once each, in publish order.
func TestRelayReachesEveryReplica(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	hubA, relayA, urlA := replica(t, url)
	hubB, _, urlB := replica(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, respA := connect(t, ctx, urlA)
	defer respA.Body.Close()
	b, respB := connect(t, ctx, urlB)
	defer respB.Body.Close()
	waitFor(t, "clients", func() bool { return hubA.Clients() == 1 && hubB.Clients() == 1 })

	relayA.Publish("result", map[string]any{"result_id": "r1", "stdout": "line\n\nevent: forged"})
	relayA.Publish("execution", map[string]any{"exec_id": "e1"})
	for name, ch := range map[string]<-chan sseEvent{"A": a, "B": b} {
		ev := next(t, ch, true)
		var got map[string]any
		if ev.event != "result" || json.Unmarshal([]byte(ev.data), &got) != nil || got["result_id"] != "r1" {
			t.Fatalf("replica %s: first event %+v", name, ev)
		}
		if ev := next(t, ch, true); ev.event != "execution" {
			t.Fatalf("replica %s: second event %+v (a duplicate or reordering)", name, ev)
		}
	}
}

// A relayed payload that is not JSON never reaches clients; a valid one
// is compacted so no raw newline can end the SSE frame early.
func TestPublishJSONValidatesAndCompacts(t *testing.T) {
	t.Parallel()
	h := NewHub(quietLogger())
	if err := h.PublishJSON("x", []byte("not json\n\nevent: forged")); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	c, _ := h.add()
	if err := h.PublishJSON("result", []byte("{\n  \"a\": \"b\"\n}")); err != nil {
		t.Fatal(err)
	}
	got := string((<-c.ch).msg)
	if !strings.HasSuffix(got, "data: {\"a\":\"b\"}\n\n") {
		t.Fatalf("frame %q", got)
	}
}

func FuzzPublishJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b\nc"}`, "[1,\n2]", "\"x\"", "nope", "{\"a\":\n\n1}", ""} {
		f.Add("result", []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		h := NewHub(quietLogger())
		c, _ := h.add()
		if err := h.PublishJSON(typ, payload); err != nil {
			return
		}
		frame := (<-c.ch).msg
		// Exactly one frame: a blank line only at the end, and one data line.
		body := bytes.TrimSuffix(frame, []byte("\n\n"))
		if bytes.Contains(body, []byte("\n\n")) || bytes.Count(body, []byte("\ndata: ")) != 1 || bytes.Contains(body, []byte("\r")) {
			t.Fatalf("frame %q", frame)
		}
	})
}

func TestLiveSubject(t *testing.T) {
	t.Parallel()
	if got := bus.Live("result"); got != "kanade.live.result" {
		t.Fatal(got)
	}
	if got := bus.Live("a.b>"); got != "kanade.live.a_b_" {
		t.Fatal(got)
	}
}
