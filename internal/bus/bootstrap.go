package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const day = 24 * time.Hour

// Limits of stream OUTPUT: 1 GiB of chunks waiting (about 120 maximal
// outputs); one message is a 128 KiB chunk plus headers.
const (
	OutputStreamMaxBytes = 1 << 30
	OutputMaxMsgSize     = 256 << 10
	minStreamBytes       = 8 << 20
)

// insufficientStorage: JetStream refused a stream because its byte limit
// exceeds what the server may store (err_code 10047).
func insufficientStorage(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && ae.ErrorCode == 10047
}

// StreamConfigs returns the streams of SPEC §2 with the given replica count.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return []jetstream.StreamConfig{
		{Name: StreamExec, Subjects: []string{"commands.>"}, MaxMsgsPerSubject: 1, MaxAge: 7 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			AllowDirect: true, Description: "latest command per subject (agents catch up by direct get)"},
		{Name: StreamEvents, Subjects: []string{"events.>"}, MaxAge: 7 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas},
		{Name: StreamResults, Subjects: []string{"results.>"}, MaxAge: 30 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas},
		{Name: StreamAudit, Subjects: []string{"audit.>"}, MaxAge: 365 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas},
		// Chunks live here only until assembled (then purged); the limits
		// bound what an assembler outage or a flood can pile up.
		{Name: StreamOutput, Subjects: []string{SubjOutputAll}, MaxAge: 7 * day, MaxBytes: OutputStreamMaxBytes,
			MaxMsgSize: OutputMaxMsgSize, Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "full-output chunks waiting for assembly into result_output"},
		{Name: StreamExecs, Subjects: []string{SubjExecsAll}, MaxAge: 90 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "execution requests and their fan-out outcomes (the executions table is rebuilt from it)"},
		// The last report per PC is what matters; 30 days of them rebuild
		// the facts and their history after a wipe.
		{Name: StreamInventory, Subjects: []string{"inventory.>"}, MaxAge: 30 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "agents' built-in facts (SPEC §14)"},
		// Small (an open and a resolve per offline episode, an ack per
		// alert); kept a year so a wipe rebuilds the alert history.
		{Name: StreamAlerts, Subjects: []string{"alerts.>"}, MaxAge: 365 * day,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "agent-offline alerts and acks (SPEC §15)"},
		// Notifications wait here while they are retried (24 h at most);
		// the duplicate window outlasts that, so a dispatcher that crashed
		// between a publish and its watermark never queues one twice.
		{Name: StreamNotify, Subjects: []string{SubjNotifyAll}, MaxAge: 3 * day, Duplicates: 26 * time.Hour,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "notifications queued for delivery (SPEC §15)"},
		{Name: StreamNotifyLog, Subjects: []string{SubjNotifyLogAll}, MaxAge: 30 * day, Duplicates: 26 * time.Hour,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardOld, Replicas: replicas,
			Description: "notification delivery attempts (notification_deliveries is rebuilt from it)"},
	}
}

// KVConfigs returns the KV buckets of SPEC §2 (plus the backend's own).
func KVConfigs(replicas int) []jetstream.KeyValueConfig {
	if replicas < 1 {
		replicas = 1
	}
	kv := func(name string, history uint8, desc string) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: name, History: history, Description: desc,
			Storage: jetstream.FileStorage, Replicas: replicas}
	}
	locks := kv(KVLocks, 1, "leader locks (TTL)")
	locks.TTL = 15 * time.Second
	return []jetstream.KeyValueConfig{
		kv(KVJobs, 5, "job id → manifest JSON"),
		kv(KVJobsYAML, 5, "job id → original manifest text"),
		kv(KVSchedules, 5, "schedule id → schedule JSON"),
		kv(KVSchedulesYAML, 5, "schedule id → original schedule text"),
		kv(KVScriptCurrent, 5, "job id → pinned version"),
		kv(KVScriptStatus, 5, "job id → ACTIVE|REVOKED"),
		kv(KVAgentGroups, 1, "pc_id → {groups:[…]}"),
		kv(KVAgentConfig, 1, "global | groups.<g> | pcs.<pc> → config scope"),
		kv(KVFleetConfig, 1, "freeze"),
		kv(KVWaves, 1, "pending wave dispatches"),
		kv(KVSchedState, 1, "scheduler bookkeeping (last fire per schedule)"),
		kv(KVSigningKeys, 5, "command-signing public keys (rotation chain, internal/sign)"),
		kv(KVNotifyChannels, 5, "notification channel id → channel JSON (holds secrets)"),
		kv(KVNotifyState, 1, "notification dispatcher watermark"),
		locks,
	}
}

// Bootstrap creates or updates every stream, KV bucket and object store. It
// is idempotent and safe to run from several backends at once. Resources
// that already have the wanted settings are left untouched: an update is
// not free for the broker (and one racing a consumer creation has tripped
// nats-server's race detector), and every replica runs this at start.
func Bootstrap(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, sc := range StreamConfigs(replicas) {
		if st, err := js.Stream(ctx, sc.Name); err == nil && StreamMatches(st.CachedInfo().Config, sc) {
			continue
		}
		_, err := js.CreateOrUpdateStream(ctx, sc)
		// A byte limit larger than the broker's whole file store (a small
		// disk, or the limit the backend derives from free space) is refused
		// outright; such a stream gets a quarter of that at a time, down to
		// a floor, rather than the backend not starting.
		for sc.MaxBytes > minStreamBytes && insufficientStorage(err) {
			sc.MaxBytes /= 4
			_, err = js.CreateOrUpdateStream(ctx, sc)
		}
		if err != nil {
			return fmt.Errorf("bootstrap stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range KVConfigs(replicas) {
		if kv, err := js.KeyValue(ctx, kc.Bucket); err == nil {
			if st, err := kv.Status(ctx); err == nil {
				if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
					cfg := bs.StreamInfo().Config
					if cfg.MaxMsgsPerSubject == int64(kc.History) && cfg.MaxAge == kc.TTL && cfg.Replicas == kc.Replicas {
						continue
					}
				}
			}
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("bootstrap kv %s: %w", kc.Bucket, err)
		}
	}
	for _, oc := range ObjectStoreConfigs(replicas) {
		if os, err := js.ObjectStore(ctx, oc.Bucket); err == nil {
			if st, err := os.Status(ctx); err == nil && st.Replicas() == oc.Replicas && st.TTL() == oc.TTL {
				continue
			}
		}
		if _, err := js.CreateOrUpdateObjectStore(ctx, oc); err != nil {
			return fmt.Errorf("bootstrap object store %s: %w", oc.Bucket, err)
		}
	}
	return nil
}

// ObjectStoreConfigs returns the object stores of SPEC §2 and §11.
func ObjectStoreConfigs(replicas int) []jetstream.ObjectStoreConfig {
	replicas = max(replicas, 1)
	return []jetstream.ObjectStoreConfig{
		{Bucket: ObjAgentRelease, Storage: jetstream.FileStorage, Replicas: replicas, Description: "agent binaries for self-update"},
		// Full outputs live as long as the results that name them.
		{Bucket: ObjResultOutput, Storage: jetstream.FileStorage, Replicas: replicas, TTL: 30 * day,
			Description: "full run output: <result_id>/<stream> (SPEC §11)"},
	}
}

// StreamMatches reports whether an existing stream already has every
// setting Bootstrap manages.
func StreamMatches(have, want jetstream.StreamConfig) bool {
	limit := func(n int64) int64 { // the server stores "no limit" as -1
		if n <= 0 {
			return -1
		}
		return n
	}
	return slices.Equal(have.Subjects, want.Subjects) && have.MaxAge == want.MaxAge &&
		limit(have.MaxMsgsPerSubject) == limit(want.MaxMsgsPerSubject) && have.Replicas == want.Replicas &&
		have.Storage == want.Storage && have.Discard == want.Discard && have.AllowDirect == want.AllowDirect &&
		have.Description == want.Description && limit(have.MaxBytes) == limit(want.MaxBytes) &&
		limit(int64(have.MaxMsgSize)) == limit(int64(want.MaxMsgSize)) &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates)
}

// IsNotFound reports whether err means a KV key, stream or consumer is absent.
func IsNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrMsgNotFound) ||
		errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}
