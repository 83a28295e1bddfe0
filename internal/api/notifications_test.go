package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// oneTransition is a transition source with one opened alert a minute ago
// (a stand-in for the alerts store until it serves alert_transitions).
type oneTransition struct{ at string }

func (o oneTransition) AlertTransitionsSince(_ context.Context, afterAt, _ string, _ int) ([]notify.AlertTransition, error) {
	if afterAt >= o.at {
		return nil, nil
	}
	return []notify.AlertTransition{{Key: "a1:opened", AlertID: "a1", Transition: "opened", Kind: "check", CheckID: "disk-usage",
		PCID: "pc-1", Severity: "critical", At: o.at}}, nil
}

// TestNotificationChannelsAPI: CRUD with secrets never returned, 422s
// naming the field, a test notification and an alert delivered through the
// backend's queue and listed in the delivery log, every change audited,
// and no secret in the backend's log.
func TestNotificationChannelsAPI(t *testing.T) {
	var logs lockedBuf
	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature("hook-SECRET", body, r.Header.Get(notify.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		posts = append(posts, r.Header.Get("X-Kanade-Event"))
		mu.Unlock()
	}))
	defer hook.Close()
	at := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000000Z")
	b := testenv.Backend(t, func(c *server.Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Notify = notify.Options{Poll: 20 * time.Millisecond, Settle: time.Millisecond, BackoffMin: 20 * time.Millisecond}
		c.Transitions = oneTransition{at: at}
	})

	// Validation names the field.
	r := call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{Name: "x", Type: "webhook", URL: hook.URL})
	if r.status != 422 || r.field(t) != "secret" {
		t.Fatalf("no secret: %d %s", r.status, r.body)
	}
	r = call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{Name: "x", Type: "email",
		To: []string{"ops@example.org"}, SMTP: &apiv1.SMTPInput{Host: "smtp.example.org", From: "bad"}})
	if r.status != 422 || r.field(t) != "smtp.from" {
		t.Fatalf("bad from: %d %s", r.status, r.body)
	}

	// Create: the answer has no secret.
	r = must(t, call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{ID: "ops", Name: "Ops hook",
		Type: "webhook", URL: hook.URL, Secret: "hook-SECRET", MinSeverity: "warning"}), 201)
	must(t, call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{ID: "chat", Name: "Chat",
		Type: "slack", URL: "https://hooks.slack.example/services/slack-SECRET"}), 201)
	must(t, call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{ID: "mail", Name: "Mail", Type: "email",
		To: []string{"ops@example.org"}, SMTP: &apiv1.SMTPInput{Host: "smtp.example.org", Username: "k", Password: "smtp-SECRET", From: "k@example.org"}}), 201)
	r = call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{ID: "ops", Name: "again", Type: "webhook",
		URL: hook.URL, Secret: "s"})
	if r.status != 409 {
		t.Fatalf("duplicate id: %d %s", r.status, r.body)
	}
	var views []apiv1.NotificationChannel
	lr := must(t, call(t, b, "GET", "/api/notification-channels", "", nil), 200)
	lr.json(t, &views)
	one := must(t, call(t, b, "GET", "/api/notification-channels/mail", "", nil), 200)
	for _, raw := range [][]byte{r.body, lr.body, one.body} {
		for _, secret := range []string{"SECRET"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("a response holds a secret: %s", raw)
			}
		}
	}
	if len(views) != 3 || views[0].ID != "chat" || !views[0].URLSet || views[0].URL != "" || !views[2].SecretSet ||
		views[2].URL != hook.URL || views[1].SMTP == nil || !views[1].SMTP.PasswordSet || !views[1].SMTP.StartTLS {
		t.Fatalf("channels %+v", views)
	}

	// PUT without the secret keeps it (the test send below verifies it).
	r = must(t, call(t, b, "PUT", "/api/notification-channels/ops", "", apiv1.NotificationChannelInput{Name: "Ops hook 2",
		Type: "webhook", URL: hook.URL, MinSeverity: "critical"}), 200)
	var upd apiv1.NotificationChannel
	r.json(t, &upd)
	if !upd.SecretSet || upd.Name != "Ops hook 2" || upd.MinSeverity != "critical" {
		t.Fatalf("updated %+v", upd)
	}
	must(t, call(t, b, "GET", "/api/notification-channels/nope", "", nil), 404)

	// A test notification goes through the queue and the log.
	var tr apiv1.TestNotificationResponse
	must(t, call(t, b, "POST", "/api/notification-channels/ops/test", "", nil), 202).json(t, &tr)
	// The dispatcher turns the transition into one alert.opened.
	var rows []apiv1.NotificationDelivery
	testenv.Eventually(t, 15*time.Second, "two delivered rows", func() bool {
		must(t, call(t, b, "GET", "/api/notifications?channel=ops&status=delivered", "", nil), 200).json(t, &rows)
		return len(rows) == 2
	})
	ids := map[string]bool{rows[0].DeliveryID: true, rows[1].DeliveryID: true}
	if !ids[tr.DeliveryID] {
		t.Fatalf("delivery log %+v lacks the test delivery %s", rows, tr.DeliveryID)
	}
	mu.Lock()
	got := strings.Join(posts, ",")
	mu.Unlock()
	if got != "test,alert.opened" && got != "alert.opened,test" {
		t.Fatalf("webhook got %q", got)
	}
	must(t, call(t, b, "GET", "/api/notifications?status=bogus", "", nil), 400)

	// Delete, and the audit trail.
	must(t, call(t, b, "DELETE", "/api/notification-channels/chat", "", nil), 204)
	must(t, call(t, b, "DELETE", "/api/notification-channels/chat", "", nil), 404)
	var audit []apiv1.AuditEntry
	testenv.Eventually(t, 10*time.Second, "audit rows", func() bool {
		must(t, call(t, b, "GET", "/api/audit?limit=100", "", nil), 200).json(t, &audit)
		n := 0
		for _, a := range audit {
			if strings.HasPrefix(a.Action, "notification_channel.") {
				n++
			}
		}
		return n == 6 // 3 creates, update, test, delete
	})
	for _, a := range audit {
		if bytes.Contains(a.Payload, []byte("SECRET")) {
			t.Fatalf("audit payload holds a secret: %s", a.Payload)
		}
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Fatalf("the backend logged a secret:\n%s", logs.String())
	}
}
