package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/leader"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// base is a closed collapse window a minute ago.
func base() time.Time { return time.Now().Add(-time.Minute).UTC().Truncate(10 * time.Second) }

func TestWebhookGetsOneSignedPostPerTransition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "s3cret")
	e.addChannel(webhook("ops", rcv.URL, "s3cret"))
	at := base()
	e.src.add(tr("disk-usage", "pc-1", notify.TransitionOpened, "critical", at),
		tr("bitlocker", "pc-2", notify.TransitionOpened, "warning", at.Add(time.Second)),
		tr("disk-usage", "pc-1", notify.TransitionResolved, "critical", at.Add(20*time.Second)))
	d := e.dispatcher(nil)
	if n := e.tick(d); n != 3 {
		t.Fatalf("queued %d notifications, want 3", n)
	}
	e.sender(e.js, nil)
	eventually(t, 10*time.Second, "3 deliveries", func() bool { return len(rcv.got()) == 3 && e.settled() })
	rcv.check(t)
	got := rcv.got()
	slices.SortFunc(got, func(a, b notify.WebhookBody) int { return a.At.Compare(b.At) })
	want := []struct{ event, check, sev string }{
		{notify.EventOpened, "disk-usage", "critical"}, {notify.EventOpened, "bitlocker", "warning"}, {notify.EventResolved, "disk-usage", "critical"}}
	for i, w := range want {
		g := got[i]
		if g.Event != w.event || g.CheckID != w.check || g.Severity != w.sev || g.Count != 1 || !slices.Equal(g.PCIDs, []string{got[i].PCIDs[0]}) ||
			g.AlertID == "" || g.Channel != "ops" {
			t.Errorf("delivery %d = %+v, want %+v", i, g, w)
		}
	}
	// A second pass and a restarted dispatcher queue nothing again.
	if n := e.tick(d); n != 0 {
		t.Fatalf("second pass queued %d", n)
	}
	if n := e.tick(e.dispatcher(nil)); n != 0 {
		t.Fatalf("restarted dispatcher queued %d", n)
	}
	as := e.attempts()
	if len(as) != 3 {
		t.Fatalf("attempt records = %+v, want 3", as)
	}
	for _, a := range as {
		if a.Status != wire.AttemptDelivered || a.Attempt != 1 || a.StatusCode != 200 || a.ChannelType != notify.TypeWebhook {
			t.Errorf("attempt %+v", a)
		}
	}
	if len(rcv.got()) != 3 {
		t.Fatalf("receiver got %d POSTs after the restart, want 3", len(rcv.got()))
	}
}

func TestRetriedWhileReceiverDownThenDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	// Down twice (connection dropped), then 500, then up.
	rcv.fail = func(n int) int {
		switch n {
		case 1, 2:
			return -1
		case 3:
			return 500
		}
		return 0
	}
	e.addChannel(webhook("ops", rcv.URL, "k"))
	e.src.add(tr("svc", "pc-9", notify.TransitionOpened, "critical", base()))
	if n := e.tick(e.dispatcher(nil)); n != 1 {
		t.Fatalf("queued %d", n)
	}
	e.sender(e.js, nil)
	eventually(t, 15*time.Second, "delivery after the outage", func() bool { return len(rcv.got()) == 1 && e.settled() })
	rcv.check(t)
	as := e.attempts()
	if len(as) != 4 {
		t.Fatalf("attempts = %+v, want 4", as)
	}
	for i, a := range as {
		want := wire.AttemptFailed
		if i == 3 {
			want = wire.AttemptDelivered
		}
		if a.Attempt != i+1 || a.Status != want || a.DeliveryID != as[0].DeliveryID {
			t.Errorf("attempt %d = %+v, want number %d %s", i, a, i+1, want)
		}
	}
	if as[2].StatusCode != 500 || !strings.Contains(as[2].Error, "500") {
		t.Errorf("third attempt %+v should record the 500", as[2])
	}
	if as[0].Error == "" || as[0].StatusCode != 0 {
		t.Errorf("first attempt %+v should record the dropped connection", as[0])
	}
	if len(rcv.got()) != 1 {
		t.Fatalf("delivered %d times", len(rcv.got()))
	}
}

func TestBurstCollapsesToOneNotificationPerChannel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	e.addChannel(webhook("a", rcv.URL, "k"))
	e.addChannel(webhook("b", rcv.URL, "k"))
	lab := webhook("lab", rcv.URL, "k")
	lab.Groups = []string{"lab"}
	e.addChannel(lab)
	crit := webhook("crit", rcv.URL, "k")
	crit.MinSeverity = "critical"
	e.addChannel(crit) // warnings do not reach it
	at := base()
	var rows []notify.AlertTransition
	for i := range 1000 {
		pc := fmt.Sprintf("pc-%04d", i)
		rows = append(rows, tr("disk-usage", pc, notify.TransitionOpened, "warning", at.Add(time.Duration(i)*time.Millisecond)))
		if i < 7 {
			if _, err := e.kv.AgentGroups.Set(t.Context(), pc, []string{"lab"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.src.add(rows...)
	if n := e.tick(e.dispatcher(nil)); n != 3 {
		t.Fatalf("queued %d notifications, want 3 (a, b, lab)", n)
	}
	e.sender(e.js, nil)
	eventually(t, 10*time.Second, "3 deliveries", func() bool { return len(rcv.got()) == 3 && e.settled() })
	rcv.check(t)
	counts := map[string]int{}
	for _, b := range rcv.got() {
		counts[b.Channel] = b.Count
		if len(b.PCIDs) > notify.MaxSample || len(b.PCIDs) == 0 || b.CheckID != "disk-usage" {
			t.Errorf("body %+v", b)
		}
		if b.Summary != fmt.Sprintf("[kanade] WARNING: check disk-usage failing on %d PCs", b.Count) {
			t.Errorf("summary %q", b.Summary)
		}
	}
	if counts["a"] != 1000 || counts["b"] != 1000 || counts["lab"] != 7 {
		t.Fatalf("counts = %v, want a 1000, b 1000, lab 7", counts)
	}
}

func TestOldTransitionsAreNeverSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	e.addChannel(webhook("a", rcv.URL, "k"))
	e.src.add(tr("disk-usage", "pc-1", notify.TransitionOpened, "critical", time.Now().Add(-25*time.Hour)))
	if n := e.tick(e.dispatcher(nil)); n != 0 {
		t.Fatalf("queued %d for a 25 h old transition", n)
	}
	wm, _, err := e.kv.NotifyState.Watermark(t.Context())
	if err != nil || wm.Key == "" {
		t.Fatalf("watermark %+v %v: the old row must be passed", wm, err)
	}
	// An open window is not dispatched yet; it is once closed.
	now := time.Now()
	e.src.add(tr("svc", "pc-2", notify.TransitionOpened, "critical", now))
	d := e.dispatcher(nil)
	d.Opts.Settle = time.Hour
	if n := e.tick(d); n != 0 {
		t.Fatalf("queued %d from an open window", n)
	}
	d.Now = func() time.Time { return now.Add(2 * time.Hour) }
	if n := e.tick(d); n != 1 {
		t.Fatalf("queued %d once the window closed, want 1", n)
	}
}

// TestLateCommitWhileProjectorCatchesUp: a backlog's transitions are
// committed long after their (broker) time. While the projection horizon
// is behind, a newer window is held back, so the late rows are not passed
// by; once caught up, both are sent.
func TestLateCommitWhileProjectorCatchesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	e.addChannel(webhook("a", rcv.URL, "k"))
	now := time.Now()
	backlog := now.Add(-10 * time.Minute) // a result the projector has not reached
	e.src.add(tr("svc", "pc-new", notify.TransitionOpened, "critical", now.Add(-5*time.Minute)))
	d := e.dispatcher(nil)
	horizon := backlog
	d.Horizon = func(context.Context, time.Time) (time.Time, error) { return horizon, nil }
	if n := e.tick(d); n != 0 {
		t.Fatalf("queued %d while the projector is behind", n)
	}
	e.src.add(tr("disk", "pc-old", notify.TransitionOpened, "critical", backlog.Add(time.Second))) // committed now
	horizon = now
	if n := e.tick(d); n != 2 {
		t.Fatalf("queued %d once caught up, want 2 (the late row and the newer one)", n)
	}
}

// TestTwoReplicasSendEachOnce runs two dispatchers behind one leader
// election and two senders on one durable consumer, as two backends do.
func TestTwoReplicasSendEachOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, "k")
	e.addChannel(webhook("ops", rcv.URL, "k"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var electors []*leader.Elector
	for i := range 2 {
		js := e.connect()
		el := leader.New(e.kv.Locks, "scheduler", fmt.Sprintf("replica-%d", i), quiet)
		electors = append(electors, el)
		wg.Go(func() { _ = el.Run(ctx) })
		d := e.dispatcher(nil)
		d.JS, d.IsLeader = js, el.IsLeader
		wg.Go(func() { d.Run(ctx) })
		e.sender(js, nil)
	}
	eventually(t, 10*time.Second, "a leader", func() bool { return electors[0].IsLeader() || electors[1].IsLeader() })
	at := base()
	for i := range 30 {
		e.src.add(tr(fmt.Sprintf("check-%02d", i), "pc-1", notify.TransitionOpened, "critical", at.Add(time.Duration(i)*time.Millisecond)))
	}
	eventually(t, 20*time.Second, "30 deliveries", func() bool { return len(rcv.got()) >= 30 && e.settled() })
	rcv.check(t)
	seen := map[string]int{}
	for _, b := range rcv.got() {
		seen[b.DeliveryID]++
	}
	if len(rcv.got()) != 30 || len(seen) != 30 {
		t.Fatalf("got %d POSTs for %d distinct deliveries, want 30 and 30", len(rcv.got()), len(seen))
	}
}

func TestChannelValidationNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c     notify.Channel
		field string
	}{
		{notify.Channel{ID: "Bad ID", Name: "x", Type: "webhook"}, "id"},
		{notify.Channel{ID: "a", Type: "webhook"}, "name"},
		{notify.Channel{ID: "a", Name: "x", Type: "pager"}, "type"},
		{notify.Channel{ID: "a", Name: "x", Type: "webhook", URL: "ftp://h"}, "url"},
		{notify.Channel{ID: "a", Name: "x", Type: "webhook", URL: "https://h/x"}, "secret"},
		{notify.Channel{ID: "a", Name: "x", Type: "slack", URL: "https://h/x", MinSeverity: "fatal"}, "min_severity"},
		{notify.Channel{ID: "a", Name: "x", Type: "email"}, "smtp"},
		{notify.Channel{ID: "a", Name: "x", Type: "email", SMTP: &notify.SMTP{From: "k@x.org"}}, "smtp.host"},
		{notify.Channel{ID: "a", Name: "x", Type: "email", SMTP: &notify.SMTP{Host: "h", From: "nope"}}, "smtp.from"},
		{notify.Channel{ID: "a", Name: "x", Type: "email", SMTP: &notify.SMTP{Host: "h", From: "k@x.org"}}, "to"},
		{notify.Channel{ID: "a", Name: "x", Type: "slack", URL: "https://h/x", Groups: []string{"a b"}}, "groups"},
	}
	for _, c := range cases {
		err := c.c.Validate()
		fe, ok := err.(*wire.FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%+v: error %v, want one naming %s", c.c, err, c.field)
		}
	}
	// A bad Slack URL is not quoted back: it is a secret.
	err := (&notify.Channel{ID: "a", Name: "x", Type: "slack", URL: "hooks.slack.com/services/T0/B0/SECRETPART"}).Validate()
	if err == nil || strings.Contains(err.Error(), "SECRETPART") {
		t.Fatalf("error %v quotes the url", err)
	}
}

// TestSecretsNeverLogged fails every channel type's sends and greps the
// logs and the attempt records for the secrets.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rcv := newReceiver(t, "hmac-SECRET-1")
	rcv.fail = func(int) int { return 503 }
	e.addChannel(webhook("hook", rcv.URL, "hmac-SECRET-1"))
	// A Slack URL on a port nobody listens on: the dial error must not quote it.
	e.addChannel(notify.Channel{ID: "slack", Name: "Slack", Type: notify.TypeSlack, MinSeverity: "info",
		URL: "http://127.0.0.1:1/services/T000/B000/slack-SECRET-2"})
	e.addChannel(notify.Channel{ID: "mail", Name: "Mail", Type: notify.TypeEmail, MinSeverity: "info", To: []string{"ops@example.org"},
		SMTP: &notify.SMTP{Host: "127.0.0.1", Port: 1, Username: "kanade", Password: "smtp-SECRET-3", From: "kanade@example.org", StartTLS: true}})
	e.src.add(tr("disk-usage", "pc-1", notify.TransitionOpened, "critical", base()))
	if n := e.tick(e.dispatcher(log)); n != 3 {
		t.Fatalf("queued %d", n)
	}
	e.sender(e.js, log)
	eventually(t, 15*time.Second, "two failed attempts per channel", func() bool {
		per := map[string]int{}
		for _, a := range e.attempts() {
			per[a.ChannelID]++
		}
		return per["hook"] >= 2 && per["slack"] >= 2 && per["mail"] >= 2
	})
	records := fmt.Sprint(e.attempts())
	for _, secret := range []string{"SECRET-1", "SECRET-2", "SECRET-3", "services/T000"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, buf.String())
		}
		if strings.Contains(records, secret) {
			t.Errorf("attempt records contain %q: %s", secret, records)
		}
	}
	if !strings.Contains(buf.String(), "will retry") {
		t.Fatalf("no retry logged:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
