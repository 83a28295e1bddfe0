package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KVEntries returns the current entries of a bucket whose keys match filter
// (">" for all), deleted keys skipped. A watch, unlike Keys + Get, reads the
// whole snapshot in one pass; it is bounded by 30 s so a slow broker cannot
// hang a request.
func KVEntries(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return out, nil
			}
			out = append(out, e)
		}
	}
}
