package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/server"
)

var deliveryRe = regexp.MustCompile(`\bt[0-9a-f]{24}\b`)

func TestChannelsAndNotifications(t *testing.T) {
	var got atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature("cli-secret", body, r.Header.Get(notify.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		got.Add(1)
	}))
	defer hook.Close()
	e := newEnv(t, func(c *server.Config) { c.Notify = notify.Options{BackoffMin: 20 * time.Millisecond} })
	e.needRoute("GET", "/api/notification-channels")

	if r := e.cli("channels", "add", "x", "--name", "X"); r.code != 2 || !strings.Contains(r.err, "--type") {
		t.Fatalf("add without --type: %d %s", r.code, r.err)
	}
	if r := e.cli("channels", "add", "x", "--type", "webhook", "--name", "X", "--url", hook.URL); r.code == 0 || !strings.Contains(r.err, "secret") {
		t.Fatalf("webhook without secret: %d %s", r.code, r.err)
	}
	if r := e.cliIn("cli-secret\n", "channels", "add", "ops", "--type", "webhook", "--name", "Ops", "--url", hook.URL, "--secret", "-",
		"--min-severity", "critical", "--group", "lab"); r.code != 0 {
		t.Fatalf("add ops: %d %s", r.code, r.err)
	}
	e.ok("channels", "add", "chat", "--type", "slack", "--name", "Chat", "--url", "https://hooks.slack.example/services/T0/B0/SLACKSECRET")
	if r := e.cliIn("smtp-pass\n", "channels", "add", "mail", "--type", "email", "--name", "Mail", "--smtp-host", "smtp.example.org",
		"--smtp-username", "kanade", "--smtp-password", "-", "--smtp-from", "kanade@example.org", "--to", "ops@example.org"); r.code != 0 {
		t.Fatalf("add mail: %d %s", r.code, r.err)
	}
	list := e.ok("channels", "list")
	for _, secret := range []string{"cli-secret", "SLACKSECRET", "smtp-pass"} {
		if strings.Contains(list, secret) || strings.Contains(e.ok("channels", "list", "-o", "json"), secret) {
			t.Fatalf("channels list shows %q:\n%s", secret, list)
		}
	}
	golden(t, "channels_list", normalize(list, hook.URL, "<hook>"))

	out := e.ok("channels", "test", "ops", "--wait", "15s")
	if got.Load() != 1 {
		t.Fatalf("receiver got %d posts", got.Load())
	}
	golden(t, "channels_test", deliveryRe.ReplaceAllString(normalize(out), "<delivery>"))
	golden(t, "notifications", deliveryRe.ReplaceAllString(normalize(e.ok("notifications", "--channel", "ops")), "<delivery>"))
	var rows []apiv1.NotificationDelivery
	e.jsonOK(&rows, "notifications", "--status", "delivered")
	if len(rows) != 1 || rows[0].ChannelID != "ops" || rows[0].Event != "test" {
		t.Fatalf("notifications %+v", rows)
	}
	csv := e.ok("notifications", "-o", "csv")
	if !strings.HasPrefix(csv, "id,delivery_id,channel_id,") || strings.Count(csv, "\n") != 2 {
		t.Fatalf("csv:\n%s", csv)
	}
	if r := e.cli("notifications", "--status", "nope"); r.code != 2 {
		t.Fatalf("bad status: %d %s", r.code, r.err)
	}
	e.ok("channels", "rm", "chat")
	if r := e.cli("channels", "rm", "chat"); r.code == 0 || !strings.Contains(r.err, "no such notification channel") {
		t.Fatalf("rm twice: %d %s", r.code, r.err)
	}
}
