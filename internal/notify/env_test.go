package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a real embedded broker with every stream and bucket bootstrapped.
type env struct {
	t   *testing.T
	url string
	js  jetstream.JetStream
	kv  *kv.Store
	src *memSource
}

func newEnv(t *testing.T) *env {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	e := &env{t: t, url: b.ClientURL(), src: &memSource{}}
	e.js = e.connect()
	if err := bus.Bootstrap(t.Context(), e.js, 1); err != nil {
		t.Fatal(err)
	}
	e.kv = kv.New(e.js, quiet)
	return e
}

// connect opens another connection (a "replica").
func (e *env) connect() jetstream.JetStream {
	nc, err := nats.Connect(e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// fast are options for tests: short backoff, collapse window of 10 s
// aligned on the clock, transitions counted closed at once.
var fast = notify.Options{Window: 10 * time.Second, Settle: time.Millisecond, Poll: 20 * time.Millisecond,
	BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond, SendTimeout: 2 * time.Second, Replica: "test"}

func (e *env) dispatcher(log *slog.Logger) *notify.Dispatcher {
	if log == nil {
		log = quiet
	}
	return &notify.Dispatcher{Source: e.src, Channels: e.kv.NotifyChannels, Groups: e.kv.AgentGroups, State: e.kv.NotifyState,
		JS: e.js, Log: log, Opts: fast}
}

// sender starts a sender until the test ends.
func (e *env) sender(js jetstream.JetStream, log *slog.Logger) {
	if log == nil {
		log = quiet
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &notify.Sender{JS: js, Channels: e.kv.NotifyChannels, Log: log, Opts: fast}
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) addChannel(c notify.Channel) notify.Channel {
	e.t.Helper()
	if err := c.Validate(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.kv.NotifyChannels.Put(e.t.Context(), c, 0); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) tick(d *notify.Dispatcher) int {
	e.t.Helper()
	n, err := d.Tick(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// attempts reads every attempt record of stream NOTIFY_LOG.
func (e *env) attempts() []wire.NotifyAttempt {
	e.t.Helper()
	ctx := e.t.Context()
	st, err := e.js.Stream(ctx, bus.StreamNotifyLog)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []wire.NotifyAttempt
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		a, err := wire.DecodeNotifyAttempt(m.Data)
		if err != nil {
			e.t.Fatalf("attempt record seq %d: %v", seq, err)
		}
		out = append(out, a)
	}
	return out
}

// settled reports whether the sender has nothing in flight or pending.
func (e *env) settled() bool {
	c, err := e.js.Consumer(e.t.Context(), bus.StreamNotify, bus.ConsumerNotifySender)
	if err != nil {
		return false
	}
	info, err := c.Info(e.t.Context())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memSource is a TransitionSource over rows in memory, in (at, key) order:
// a fake of the alerts store, not of the broker or the database.
type memSource struct {
	mu   sync.Mutex
	rows []notify.AlertTransition
}

func (s *memSource) add(ts ...notify.AlertTransition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, ts...)
	slices.SortFunc(s.rows, func(a, b notify.AlertTransition) int {
		if c := strings.Compare(a.At, b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

func (s *memSource) AlertTransitionsSince(_ context.Context, afterAt, afterKey string, limit int) ([]notify.AlertTransition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.AlertTransition
	for _, r := range s.rows {
		if r.At < afterAt || (r.At == afterAt && r.Key <= afterKey) {
			continue
		}
		out = append(out, r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// ts formats a time as the alerts store does (RFC 3339 UTC, fixed width).
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// tr is a check transition of pc at time at.
func tr(check, pc, transition, severity string, at time.Time) notify.AlertTransition {
	alert := check + "/" + pc
	return notify.AlertTransition{Key: alert + ":" + transition + ":" + ts(at), AlertID: alert, Transition: transition,
		Kind: notify.KindCheck, CheckID: check, PCID: pc, Severity: severity, At: ts(at)}
}

// receiver is a local webhook receiver that verifies every signature.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	bodies []notify.WebhookBody
	bad    []string
	// fail decides the answer of request n (1-based): 0 = 200, -1 = drop
	// the connection (receiver down), else that status.
	fail func(n int) int
	n    int
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: secret}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	n, fail := r.n, r.fail
	r.mu.Unlock()
	if fail != nil {
		switch code := fail(n); code {
		case 0:
		case -1:
			panic(http.ErrAbortHandler) // the connection drops: nothing answered
		default:
			http.Error(w, "try later", code)
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !notify.VerifySignature(r.secret, body, req.Header.Get(notify.SignatureHeader)) {
		r.bad = append(r.bad, req.Header.Get(notify.SignatureHeader))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b notify.WebhookBody
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&b); err != nil {
		r.bad = append(r.bad, "undecodable: "+err.Error())
	}
	if req.Header.Get("X-Kanade-Delivery") != b.DeliveryID {
		r.bad = append(r.bad, fmt.Sprintf("delivery header %q != body %q", req.Header.Get("X-Kanade-Delivery"), b.DeliveryID))
	}
	r.bodies = append(r.bodies, b)
}

func (r *receiver) got() []notify.WebhookBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func (r *receiver) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		t.Fatalf("receiver refused requests: %v", r.bad)
	}
}

func webhook(id, url, secret string) notify.Channel {
	return notify.Channel{ID: id, Name: "Hook " + id, Type: notify.TypeWebhook, URL: url, Secret: secret, MinSeverity: "info"}
}
