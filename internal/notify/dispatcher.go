package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// maxRowsPerTick bounds the transitions one pass reads; a pass cut there
// stops at a window boundary so no notification is split.
const (
	pageSize       = 1000
	maxRowsPerTick = 200_000
)

// Dispatcher turns new alert transitions into notifications queued in
// stream NOTIFY. Only the leader replica runs its passes (IsLeader).
type Dispatcher struct {
	Source   TransitionSource
	Channels ChannelSource
	Groups   GroupSource
	State    StateStore
	JS       jetstream.JetStream
	IsLeader func() bool
	Log      *slog.Logger
	Opts     Options
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Horizon, when set, is the time before which every transition has
	// been committed (projector.Horizon): a window is complete only once
	// it ends before both now−Settle and the horizon, so transitions a
	// projector commits late while catching up are still notified.
	Horizon func(ctx context.Context, now time.Time) (time.Time, error)
}

// Run makes a pass every Poll while this replica leads, until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	o := d.Opts.withDefaults()
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		if d.IsLeader == nil || d.IsLeader() {
			if _, err := d.Tick(ctx); err != nil && ctx.Err() == nil {
				d.log().Warn("notification dispatch pass failed; retrying", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// bucket is one collapsed notification being built.
type bucket struct {
	key string
	n   Notification
}

// Tick is one pass: it reads the transitions after the watermark whose
// window has closed, queues one notification per (channel, kind, check,
// transition, window) and advances the watermark. It returns how many
// notifications it queued. A failure leaves the watermark where it was;
// the next pass forms the same notifications with the same ids, which
// the stream's duplicate window drops.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	o := d.Opts.withDefaults()
	wm, rev, err := d.State.Watermark(ctx)
	if err != nil {
		return 0, fmt.Errorf("read watermark: %w", err)
	}
	now := d.now().UTC()
	closedBy := now.Add(-o.Settle) // a window ending at or before this is complete
	if d.Horizon != nil {
		h, err := d.Horizon(ctx, now)
		if err != nil {
			return 0, fmt.Errorf("projection horizon: %w", err)
		}
		if h.Before(closedBy) {
			closedBy = h
		}
	}
	tooOld := now.Add(-o.MaxAge)
	channels, err := d.Channels.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("list channels: %w", err)
	}
	needGroups := slices.ContainsFunc(channels, func(c Channel) bool { return len(c.Groups) > 0 })
	groups := map[string][]string{}
	var order []*bucket
	byKey := map[string]*bucket{}
	last := wm
	rows, skipped := 0, 0
	var lastWindow time.Time
read:
	for {
		page, err := d.Source.AlertTransitionsSince(ctx, last.At, last.Key, pageSize)
		if err != nil {
			return 0, fmt.Errorf("read alert transitions: %w", err)
		}
		for _, t := range page {
			at, err := time.Parse(time.RFC3339Nano, t.At)
			if err != nil {
				// Not ours to fix; never stall the queue behind one bad row.
				d.log().Warn("alert transition with a bad time skipped", "key", t.Key, "at", t.At)
				last = Watermark{At: t.At, Key: t.Key}
				continue
			}
			ws := at.UTC().Truncate(o.Window)
			if ws.Add(o.Window).After(closedBy) {
				break read // this window (and every later one) is still open
			}
			if rows >= maxRowsPerTick && !ws.Equal(lastWindow) {
				break read
			}
			rows++
			lastWindow = ws
			last = Watermark{At: t.At, Key: t.Key}
			if at.Before(tooOld) {
				skipped++
				continue
			}
			var pcGroups []string
			if needGroups {
				g, ok := groups[t.PCID]
				if !ok {
					if g, err = d.Groups.Get(ctx, t.PCID); err != nil {
						return 0, fmt.Errorf("groups of %s: %w", t.PCID, err)
					}
					groups[t.PCID] = g
				}
				pcGroups = g
			}
			for i := range channels {
				ch := &channels[i]
				if !ch.Matches(t.Severity, pcGroups) {
					continue
				}
				key := ch.ID + "\x00" + t.Kind + "\x00" + t.CheckID + "\x00" + t.Transition + "\x00" + ws.Format(time.RFC3339Nano)
				b := byKey[key]
				if b == nil {
					event := EventOpened
					if t.Transition == TransitionResolved {
						event = EventResolved
					}
					b = &bucket{key: key, n: Notification{ID: deliveryID(key), ChannelID: ch.ID, Event: event, Kind: t.Kind,
						CheckID: t.CheckID, Severity: t.Severity, At: at.UTC(), PCIDs: []string{}, AlertIDs: []string{}}}
					byKey[key] = b
					order = append(order, b)
				}
				n := &b.n
				n.Count++
				n.LastAt = at.UTC()
				if SeverityRank(t.Severity) > SeverityRank(n.Severity) {
					n.Severity = t.Severity
				}
				if len(n.PCIDs) < MaxSample && !slices.Contains(n.PCIDs, t.PCID) {
					n.PCIDs = append(n.PCIDs, t.PCID)
				}
				if len(n.AlertIDs) < MaxSample {
					n.AlertIDs = append(n.AlertIDs, t.AlertID)
				}
			}
		}
		if len(page) < pageSize {
			break
		}
	}
	// A pass cut at maxRowsPerTick keeps whole windows only: the last
	// window read may continue in the next page.
	for _, b := range order {
		if err := Enqueue(ctx, d.JS, b.n); err != nil {
			return 0, err
		}
	}
	if last != wm {
		if _, err := d.State.SetWatermark(ctx, last, rev); err != nil {
			return 0, fmt.Errorf("advance watermark (another leader?): %w", err)
		}
	}
	if len(order) > 0 || skipped > 0 {
		d.log().Info("notifications queued", "notifications", len(order), "transitions", rows, "skipped_too_old", skipped)
	}
	return len(order), nil
}

// deliveryID derives a notification's id from what it collapses, so the
// same transitions always give the same id (and Nats-Msg-Id).
func deliveryID(key string) string {
	h := sha256.Sum256([]byte(key))
	return "n" + hex.EncodeToString(h[:12])
}

// Enqueue publishes a notification to stream NOTIFY with its id as
// Nats-Msg-Id (a second publish of the same id is dropped by the stream).
func Enqueue(ctx context.Context, js jetstream.JetStream, n Notification) error {
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if _, err := js.Publish(ctx, bus.Notify(n.ChannelID), data, jetstream.WithMsgID(n.ID)); err != nil {
		return fmt.Errorf("queue notification %s: %w", n.ID, err)
	}
	return nil
}

// TestNotification is what POST /api/notification-channels/{id}/test
// queues: it goes through the same stream, sender and log as any other.
func TestNotification(channelID, id string, now time.Time) Notification {
	now = now.UTC()
	return Notification{ID: id, ChannelID: channelID, Event: EventTest, Severity: "info", Count: 1,
		PCIDs: []string{}, AlertIDs: []string{}, At: now, LastAt: now}
}
