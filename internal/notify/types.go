package notify

import (
	"context"
	"errors"
	"time"
)

// AlertTransition is one row of table alert_transitions (the alerts
// store's contract, SPEC §15): an alert opened or resolved. Rows are
// ordered by (At, Key); Key is deterministic ("<alert_id>:opened"), and a
// wipe-and-replay of the SQL projection rebuilds the same rows, which is
// why the dispatcher's watermark lives in KV and old rows are never sent.
type AlertTransition struct {
	Key        string // primary key, deterministic
	AlertID    string
	Transition string // opened | resolved
	Kind       string // check | agent-offline
	CheckID    string // "" for agent-offline
	PCID       string
	Severity   string // info | warning | critical
	At         string // RFC 3339 UTC, as stored
}

// Transitions and kinds of AlertTransition.
const (
	TransitionOpened   = "opened"
	TransitionResolved = "resolved"
	KindCheck          = "check"
	KindAgentOffline   = "agent-offline"
)

// TransitionSource reads alert transitions strictly after (afterAt,
// afterKey) in (at, key) order, at most limit of them. The alerts store
// (*store.DB) satisfies it; afterAt "" means from the beginning.
type TransitionSource interface {
	AlertTransitionsSince(ctx context.Context, afterAt, afterKey string, limit int) ([]AlertTransition, error)
}

// ChannelSource lists the channels (*kv.NotifyChannels).
type ChannelSource interface {
	List(ctx context.Context) ([]Channel, error)
	Get(ctx context.Context, id string) (Channel, uint64, error)
}

// ErrChannelNotFound is a channel id with no channel (kv returns it).
var ErrChannelNotFound = errors.New("notification channel not found")

// GroupSource returns a PC's groups (*kv.AgentGroups).
type GroupSource interface {
	Get(ctx context.Context, pc string) ([]string, error)
}

// Watermark is the last transition the dispatcher has handled.
type Watermark struct {
	At  string `json:"at"`
	Key string `json:"key"`
}

// StateStore keeps the watermark (*kv.NotifyState), with compare-and-set.
type StateStore interface {
	Watermark(ctx context.Context) (Watermark, uint64, error)
	SetWatermark(ctx context.Context, w Watermark, rev uint64) (uint64, error)
}

// Events of a Notification.
const (
	EventOpened   = "alert.opened"
	EventResolved = "alert.resolved"
	EventTest     = "test"
)

// MaxSample bounds the PC and alert ids a notification names; Count
// says how many there were.
const MaxSample = 20

// Notification is one message of stream NOTIFY: what a channel is told,
// without any secret (the sender reads the channel at send time). ID is
// the delivery id and the message's Nats-Msg-Id.
type Notification struct {
	ID        string    `json:"id"`
	ChannelID string    `json:"channel_id"`
	Event     string    `json:"event"`
	Kind      string    `json:"kind,omitempty"`
	CheckID   string    `json:"check_id,omitempty"`
	Severity  string    `json:"severity"`
	Count     int       `json:"count"`
	PCIDs     []string  `json:"pc_ids"`
	AlertIDs  []string  `json:"alert_ids"`
	At        time.Time `json:"at"`      // the first transition's time
	LastAt    time.Time `json:"last_at"` // the last one's
}

// Options tune the dispatcher and the sender; zero values take the
// defaults (tests shorten them).
type Options struct {
	// Window collapses transitions of the same (channel, check,
	// transition) whose times fall in the same window into one
	// notification (default 10 s). Windows are aligned on the clock
	// (at truncated to Window), so a dispatcher that restarts forms the
	// same notifications with the same ids.
	Window time.Duration
	// Settle is how long after a window ends its transitions are
	// collected, for rows committed late: a transition's time is its
	// result's arrival at the broker, and a projector catching up after
	// an outage commits it later (default 1 min; Dispatcher.Horizon covers
	// longer backlogs — docs/notifications.md).
	Settle time.Duration
	// Poll is how often the leader looks for new transitions (default 2 s).
	Poll time.Duration
	// MaxAge: transitions older than this are never sent (default 24 h),
	// so a replay of old history cannot notify again.
	MaxAge time.Duration
	// RetryFor is how long a notification is retried (default 24 h).
	RetryFor time.Duration
	// BackoffMin and BackoffMax bound the delay between attempts
	// (doubling from BackoffMin; defaults 10 s and 10 min).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// SendTimeout bounds one attempt (default 30 s).
	SendTimeout time.Duration
	// Workers is how many notifications one replica sends at once (default 8).
	Workers int
	// Replica names this backend in the attempt records.
	Replica string
	// UserAgent of webhook and Slack requests.
	UserAgent string
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Window, 10*time.Second)
	def(&o.Settle, time.Minute)
	def(&o.Poll, 2*time.Second)
	def(&o.MaxAge, 24*time.Hour)
	def(&o.RetryFor, 24*time.Hour)
	def(&o.BackoffMin, 10*time.Second)
	def(&o.BackoffMax, 10*time.Minute)
	def(&o.SendTimeout, 30*time.Second)
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.UserAgent == "" {
		o.UserAgent = "kanade-notify"
	}
	return o
}
