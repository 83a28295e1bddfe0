package kv

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ProbeWrite proves the broker takes writes: a put of key
// health.<holder> in the locks bucket (file storage, so a full disk or a
// broken store fails it; the bucket TTL removes the key of a replica
// that stopped). Health runs it every few seconds.
func (s *Store) ProbeWrite(ctx context.Context, holder string) error {
	kv, err := s.Locks(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, "health."+holder, []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))); err != nil {
		return fmt.Errorf("broker write probe: %w", err)
	}
	return nil
}
