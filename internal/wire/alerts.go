package wire

import (
	"fmt"
	"time"
)

// AlertEvent is one message of stream ALERTS (SPEC §15): the alert changes
// that are not derived from a result — an agent gone offline or back, and
// an operator's ack. The alerts projector applies them; a wipe replays them.
type AlertEvent struct {
	Kind    string    `json:"kind"` // AlertOfflineOpened | AlertOfflineResolved | AlertPCForgotten | AlertAck
	AlertID string    `json:"alert_id"`
	PCID    string    `json:"pc_id,omitempty"` // offline and forgotten events
	At      time.Time `json:"at"`
	Actor   string    `json:"actor,omitempty"` // ack: the account name
}

// AlertEvent kinds.
const (
	AlertOfflineOpened   = "offline_opened"
	AlertOfflineResolved = "offline_resolved"
	AlertAck             = "ack"
	// AlertPCForgotten resolves every open alert of a PC an operator
	// deleted: nobody will ever see it beat or pass again.
	AlertPCForgotten = "pc_forgotten"
	// MaxAlertIDLen bounds alert ids ("off-<pc>-<ms>", "chk-<result_id>").
	MaxAlertIDLen = 160
	MaxActorLen   = 256
)

// DecodeAlertEvent strictly decodes and validates an AlertEvent.
func DecodeAlertEvent(data []byte) (AlertEvent, error) {
	var e AlertEvent
	if err := decode(data, &e); err != nil {
		return e, err
	}
	switch e.Kind {
	case AlertOfflineOpened, AlertOfflineResolved, AlertPCForgotten:
		if err := checkIDs(idField{"pc_id", e.PCID, true}); err != nil {
			return e, err
		}
	case AlertAck:
		if e.Actor == "" || len(e.Actor) > MaxActorLen {
			return e, invalid("actor", fmt.Sprintf("is required, at most %d bytes", MaxActorLen))
		}
	case "":
		return e, invalid("kind", "is required")
	default:
		return e, invalid("kind", fmt.Sprintf("%.40q is not offline_opened, offline_resolved, pc_forgotten or ack", e.Kind))
	}
	if !ValidToken(e.AlertID, MaxAlertIDLen) {
		return e, invalid("alert_id", fmt.Sprintf("%.40q breaks the id rules", e.AlertID))
	}
	if e.At.IsZero() {
		return e, invalid("at", "is required")
	}
	return e, nil
}
