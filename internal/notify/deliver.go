package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SignatureHeader carries the webhook signature: "sha256=" and the hex
// HMAC-SHA256 of the exact request body, keyed with the channel secret.
const SignatureHeader = "X-Kanade-Signature"

// maxResponse bounds what is read of a receiver's answer.
const maxResponse = 64 << 10

// Sign returns the X-Kanade-Signature value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is body's signature with secret
// (constant time): what a receiver does.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// WebhookBody is the JSON a webhook receives (docs/notifications.md).
type WebhookBody struct {
	Event      string    `json:"event"` // alert.opened | alert.resolved | test
	DeliveryID string    `json:"delivery_id"`
	Channel    string    `json:"channel"`
	Kind       string    `json:"kind,omitempty"` // check | agent-offline
	AlertID    string    `json:"alert_id,omitempty"`
	AlertIDs   []string  `json:"alert_ids"`
	CheckID    string    `json:"check_id,omitempty"`
	PCIDs      []string  `json:"pc_ids"`
	Count      int       `json:"count"`
	Severity   string    `json:"severity"`
	At         time.Time `json:"at"`
	LastAt     time.Time `json:"last_at"`
	Summary    string    `json:"summary"`
}

// Body is the webhook body of n for channel ch.
func Body(ch Channel, n Notification) WebhookBody {
	b := WebhookBody{Event: n.Event, DeliveryID: n.ID, Channel: ch.ID, Kind: n.Kind, AlertIDs: n.AlertIDs, CheckID: n.CheckID,
		PCIDs: n.PCIDs, Count: n.Count, Severity: n.Severity, At: n.At, LastAt: n.LastAt, Summary: Subject(ch, n)}
	if len(n.AlertIDs) > 0 {
		b.AlertID = n.AlertIDs[0]
	}
	return b
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// Subject is the one-line summary: the e-mail subject and the first line
// of a Slack message, e.g. "[kanade] CRITICAL: check disk-usage failing
// on 3 PCs".
func Subject(ch Channel, n Notification) string {
	sev := strings.ToUpper(n.Severity)
	pcs := plural(n.Count, "PC")
	switch {
	case n.Event == EventTest:
		return fmt.Sprintf("[kanade] TEST: notification channel %s works", ch.Name)
	case n.Kind == KindAgentOffline && n.Event == EventResolved:
		return fmt.Sprintf("[kanade] RESOLVED: %s back online", pcs)
	case n.Kind == KindAgentOffline:
		return fmt.Sprintf("[kanade] %s: %s offline", sev, pcs)
	case n.Event == EventResolved:
		return fmt.Sprintf("[kanade] RESOLVED: check %s passing again on %s", n.CheckID, pcs)
	default:
		return fmt.Sprintf("[kanade] %s: check %s failing on %s", sev, n.CheckID, pcs)
	}
}

// Text is the plain-text message: the summary, then the PCs named.
func Text(ch Channel, n Notification) string {
	var b strings.Builder
	b.WriteString(Subject(ch, n))
	b.WriteString("\n\n")
	if n.Event == EventTest {
		fmt.Fprintf(&b, "This is a test notification of channel %s (%s), sent at %s.\n", ch.Name, ch.ID, n.At.Format(time.RFC3339))
		return b.String()
	}
	fmt.Fprintf(&b, "Severity: %s\n", n.Severity)
	if n.CheckID != "" {
		fmt.Fprintf(&b, "Check: %s\n", n.CheckID)
	}
	fmt.Fprintf(&b, "When: %s", n.At.Format(time.RFC3339))
	if !n.LastAt.Equal(n.At) {
		fmt.Fprintf(&b, " to %s", n.LastAt.Format(time.RFC3339))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "PCs (%d): %s", n.Count, strings.Join(n.PCIDs, ", "))
	if n.Count > len(n.PCIDs) {
		fmt.Fprintf(&b, " and %d more", n.Count-len(n.PCIDs))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Delivery: %s\n", n.ID)
	return b.String()
}

// sendError is a failed attempt: the receiver's status code when there
// was one, and a message that never contains a secret.
type sendError struct {
	code int
	msg  string
}

func (e *sendError) Error() string { return e.msg }

// deliver sends n through ch once, within ctx's deadline. It returns the
// status code (HTTP, or 0) and an error whose text is safe to record.
func deliver(ctx context.Context, hc *http.Client, ua string, ch Channel, n Notification, timeout time.Duration) (int, error) {
	switch ch.Type {
	case TypeWebhook:
		body, err := json.Marshal(Body(ch, n))
		if err != nil {
			return 0, err
		}
		h := http.Header{SignatureHeader: {Sign(ch.Secret, body)}, "X-Kanade-Event": {n.Event}, "X-Kanade-Delivery": {n.ID}}
		return post(ctx, hc, ua, ch.URL, body, h)
	case TypeSlack:
		body, _ := json.Marshal(map[string]string{"text": Text(ch, n)})
		return post(ctx, hc, ua, ch.URL, body, http.Header{})
	case TypeEmail:
		return 0, sendMail(ctx, ch, n, timeout)
	}
	return 0, &sendError{msg: "unknown channel type " + ch.Type}
}

func post(ctx context.Context, hc *http.Client, ua, u string, body []byte, h http.Header) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, &sendError{msg: "bad channel url"}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	res, err := hc.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, and a Slack URL is a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &sendError{msg: "post: " + err.Error()}
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponse))
	if res.StatusCode/100 != 2 {
		msg := fmt.Sprintf("receiver answered %s", res.Status)
		if s := strings.TrimSpace(strings.ToValidUTF8(string(head), "")); s != "" {
			if len(s) > 200 {
				s = s[:200]
			}
			msg += ": " + s
		}
		return res.StatusCode, &sendError{code: res.StatusCode, msg: msg}
	}
	return res.StatusCode, nil
}

// sendMail sends n as a plain-text e-mail with go-mail, STARTTLS
// required unless the channel turned it off.
func sendMail(ctx context.Context, ch Channel, n Notification, timeout time.Duration) error {
	s := ch.SMTP
	if s == nil {
		return &sendError{msg: "email channel without smtp settings"}
	}
	m := mail.NewMsg()
	if err := m.From(s.From); err != nil {
		return &sendError{msg: "from: " + err.Error()}
	}
	if err := m.To(ch.To...); err != nil {
		return &sendError{msg: "to: " + err.Error()}
	}
	m.Subject(Subject(ch, n))
	m.SetDate()
	m.SetMessageID()
	m.SetGenHeader("X-Kanade-Delivery", n.ID)
	m.SetBodyString(mail.TypeTextPlain, Text(ch, n))
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTimeout(timeout),
		mail.WithTLSConfig(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify})} //nolint:gosec // opt-in per channel
	if s.StartTLS {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return &sendError{msg: "smtp client: " + scrub(err.Error(), s.Password)}
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return &sendError{msg: "smtp: " + scrub(err.Error(), s.Password)}
	}
	return nil
}

// scrub removes a secret from an error text, in case a library quotes it.
func scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[secret]")
}
