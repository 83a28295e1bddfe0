package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/notify"
)

// ErrChannelNotFound: no such notification channel.
var ErrChannelNotFound = notify.ErrChannelNotFound

// NotifyChannels is KV notification_channels: channel id → notify.Channel
// JSON, secrets included (the bucket is the backend's own; agents have no
// permission on it).
type NotifyChannels struct{ s *Store }

func decodeChannel(v []byte) (notify.Channel, error) {
	var c notify.Channel
	if err := json.Unmarshal(v, &c); err != nil {
		return c, invalid("notification channel", err)
	}
	return c, nil
}

// List returns every channel, by id. A value that does not decode is
// skipped with a warning (its id only: the value may hold secrets).
func (n *NotifyChannels) List(ctx context.Context) ([]notify.Channel, error) {
	kv, err := n.s.bucket(ctx, bus.KVNotifyChannels)
	if err != nil {
		return nil, err
	}
	es, err := entries(ctx, kv, ">")
	if err != nil {
		return nil, fmt.Errorf("list notification channels: %w", err)
	}
	out := make([]notify.Channel, 0, len(es))
	for _, e := range es {
		c, err := decodeChannel(e.value)
		if err != nil {
			n.s.log.Warn("bad notification channel skipped", "channel_id", e.key)
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b notify.Channel) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// Get returns one channel and its revision (ErrChannelNotFound when absent).
func (n *NotifyChannels) Get(ctx context.Context, id string) (notify.Channel, uint64, error) {
	if !notify.ValidID(id) {
		return notify.Channel{}, 0, ErrChannelNotFound
	}
	kv, err := n.s.bucket(ctx, bus.KVNotifyChannels)
	if err != nil {
		return notify.Channel{}, 0, err
	}
	v, rev, ok, err := get(ctx, kv, id)
	if err != nil {
		return notify.Channel{}, 0, fmt.Errorf("get notification channel %s: %w", id, err)
	}
	if !ok {
		return notify.Channel{}, 0, ErrChannelNotFound
	}
	c, err := decodeChannel(v)
	return c, rev, err
}

// Put writes a validated channel with compare-and-set: rev 0 creates (a
// taken id is ErrConflict), otherwise it replaces revision rev.
func (n *NotifyChannels) Put(ctx context.Context, c notify.Channel, rev uint64) error {
	kv, err := n.s.bucket(ctx, bus.KVNotifyChannels)
	if err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := put(ctx, kv, c.ID, data, rev); err != nil {
		return fmt.Errorf("put notification channel %s: %w", c.ID, err)
	}
	return nil
}

// Delete removes a channel (absent: ErrChannelNotFound).
func (n *NotifyChannels) Delete(ctx context.Context, id string) error {
	if _, _, err := n.Get(ctx, id); err != nil {
		return err
	}
	kv, err := n.s.bucket(ctx, bus.KVNotifyChannels)
	if err != nil {
		return err
	}
	return del(ctx, kv, id)
}

// NotifyState is KV notify_state: the dispatcher's watermark, the last
// alert transition it has handled. It lives in KV, not SQL, because the
// SQL projection can be wiped and rebuilt while notifications already
// sent must stay sent.
type NotifyState struct{ s *Store }

// Watermark returns the stored watermark and its revision (zero values
// when none).
func (n *NotifyState) Watermark(ctx context.Context) (notify.Watermark, uint64, error) {
	kv, err := n.s.bucket(ctx, bus.KVNotifyState)
	if err != nil {
		return notify.Watermark{}, 0, err
	}
	v, rev, ok, err := get(ctx, kv, bus.NotifyWatermarkKey)
	if err != nil || !ok {
		return notify.Watermark{}, 0, err
	}
	var w notify.Watermark
	if err := json.Unmarshal(v, &w); err != nil {
		return notify.Watermark{}, rev, invalid("notify watermark", err)
	}
	return w, rev, nil
}

// SetWatermark writes the watermark with compare-and-set on rev (0 =
// create): a deposed leader racing its successor loses (ErrConflict).
func (n *NotifyState) SetWatermark(ctx context.Context, w notify.Watermark, rev uint64) (uint64, error) {
	kv, err := n.s.bucket(ctx, bus.KVNotifyState)
	if err != nil {
		return 0, err
	}
	data, _ := json.Marshal(w)
	return put(ctx, kv, bus.NotifyWatermarkKey, data, rev)
}
