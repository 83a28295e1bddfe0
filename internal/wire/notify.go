package wire

import (
	"slices"
	"time"
)

// Delivery attempt statuses (SPEC §15): delivered, failed (to be retried)
// or gave_up (no more retries: 24 h passed, the channel is gone, or the
// receiver refused the notification for good).
const (
	AttemptDelivered = "delivered"
	AttemptFailed    = "failed"
	AttemptGaveUp    = "gave_up"
)

// AttemptStatuses are the statuses of a NotifyAttempt.
var AttemptStatuses = []string{AttemptDelivered, AttemptFailed, AttemptGaveUp}

// NotifyAttempt is one delivery attempt of a notification, published by
// the sending backend on notifylog.<channel> (stream NOTIFY_LOG) and
// projected into notification_deliveries. It carries no secret.
type NotifyAttempt struct {
	DeliveryID  string    `json:"delivery_id"`
	ChannelID   string    `json:"channel_id"`
	ChannelName string    `json:"channel_name"`
	ChannelType string    `json:"channel_type"`
	Event       string    `json:"event"` // alert.opened | alert.resolved | test
	CheckID     string    `json:"check_id"`
	Severity    string    `json:"severity"`
	Count       int       `json:"count"`
	Attempt     int       `json:"attempt"`
	Status      string    `json:"status"`
	StatusCode  int       `json:"status_code"` // HTTP status (webhook, slack) or SMTP reply code; 0 when none
	Error       string    `json:"error"`
	At          time.Time `json:"at"`
	Replica     string    `json:"replica"`
}

// DecodeNotifyAttempt decodes and checks a NotifyAttempt.
func DecodeNotifyAttempt(data []byte) (NotifyAttempt, error) {
	var a NotifyAttempt
	if err := decode(data, &a); err != nil {
		return a, err
	}
	for _, f := range [][2]string{{"delivery_id", a.DeliveryID}, {"channel_id", a.ChannelID}, {"status", a.Status}} {
		if err := require(f[0], f[1]); err != nil {
			return a, err
		}
	}
	if !slices.Contains(AttemptStatuses, a.Status) {
		return a, invalid("status", "must be delivered, failed or gave_up")
	}
	if a.Attempt < 1 {
		return a, invalid("attempt", "must be at least 1")
	}
	if a.At.IsZero() {
		return a, invalid("at", "is required")
	}
	if len(a.Error) > 2000 {
		a.Error = a.Error[:2000]
	}
	return a, nil
}
