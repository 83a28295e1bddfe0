// Package output assembles the full output of runs (SPEC §11). An agent
// whose stdout or stderr is longer than a result carries inline publishes
// the whole stream as chunks on output.<pc>.<result_id>.<stream> (stream
// OUTPUT, each chunk acknowledged) before the result. The Assembler — a
// durable consumer shared by the replicas — waits for a stream's last
// chunk, reads its chunks back from OUTPUT, checks the layout and the
// SHA-256 of the whole, stores the bytes as object <result_id>/<stream> in
// result_output with the pc the subject named, and purges the chunks.
//
// Why chunks through a stream and not the agent writing the object itself:
// with per-agent identities agents live in an account with no JetStream
// and must not be able to cause any publish on $O.> (SPEC §12); a chunk is
// a plain message imported into the backend's account like a result, its
// PubAck goes back into the agents' account, and the pc token of its
// subject is bound to the agent's credential by the broker.
package output

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/metrics"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Objects is object store result_output (*kv.Outputs).
type Objects interface {
	Put(ctx context.Context, resultID, stream, pcID, sha256 string, data []byte) error
	Info(ctx context.Context, resultID, stream string) (kv.OutputInfo, bool, error)
}

// Assembler turns chunks into objects. Run it once per backend.
type Assembler struct {
	JS      jetstream.JetStream
	Objects Objects
	Log     *slog.Logger
	Metrics *metrics.Registry
}

// ackWait covers assembling one 8 MiB stream (a few dozen reads and one
// object put) with a wide margin.
const ackWait = time.Minute

// Run consumes OUTPUT until ctx ends, restarting with backoff after broker
// trouble.
func (a *Assembler) Run(ctx context.Context) {
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Metrics == nil {
		a.Metrics = metrics.Default
	}
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := a.run(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		a.Log.Warn("output assembler stopped; restarting", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (a *Assembler) run(ctx context.Context) error {
	st, err := a.JS.Stream(ctx, bus.StreamOutput)
	if err != nil {
		return fmt.Errorf("stream %s: %w", bus.StreamOutput, err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: bus.ConsumerOutput,
		AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: bus.SubjOutputAll, AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 1024})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", bus.ConsumerOutput, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return fmt.Errorf("pull %s: %w", bus.ConsumerOutput, err)
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	a.Log.Info("output assembler started", "stream", bus.StreamOutput, "consumer", bus.ConsumerOutput)
	strikes := 0
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return ctx.Err()
			}
			if strikes++; strikes >= 5 {
				return fmt.Errorf("consumer %s: %w", bus.ConsumerOutput, err)
			}
			continue
		}
		strikes = 0
		if err := a.Handle(ctx, st, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.Log.Warn("output not stored yet; JetStream will redeliver", "subject", m.Subject(), "error", err)
			_ = m.NakWithDelay(5 * time.Second)
			continue
		}
		_ = m.Ack()
	}
}

// Handle processes one chunk. It returns an error only for trouble worth a
// retry (the object store or the stream unavailable); everything about the
// chunk itself is decided, logged and counted here.
func (a *Assembler) Handle(ctx context.Context, st jetstream.Stream, m jetstream.Msg) error {
	c, err := wire.DecodeOutputChunk(m.Subject(), m.Headers(), m.Data())
	if err != nil {
		reason := wire.Reason(err)
		a.Log.Warn("output chunk refused and deleted", "subject", m.Subject(), "reason", reason, "error", err)
		a.Metrics.Add("kanade_output_poison_total", "Output chunks dropped because they broke a rule of the chunk format (reason: the field).",
			1, "reason", reason)
		if md, err := m.Metadata(); err == nil {
			_ = st.DeleteMsg(ctx, md.Sequence.Stream) // best effort: OUTPUT's age limit removes it anyway
		}
		return nil
	}
	if c.Index != c.Count-1 {
		return nil // the agent sends in order, each after the previous one's PubAck: wait for the last
	}
	log := a.Log.With("result_id", c.ResultID, "stream", c.Stream, "pc_id", c.PCID)
	have, ok, err := a.Objects.Info(ctx, c.ResultID, c.Stream)
	if err != nil {
		return err
	}
	switch {
	case ok && have.PCID != c.PCID:
		// Only one PC runs a result; another PC's chunks for the same id
		// must not replace (or pose as) its output.
		log.Warn("output chunks for a result another PC's output already holds; dropped", "object_pc_id", have.PCID)
		a.refused("foreign_pc")
		return a.purge(ctx, st, m.Subject())
	case ok && have.SHA256 == c.SHA256:
		return a.purge(ctx, st, m.Subject()) // a resend of what is stored
	}
	data, err := a.collect(ctx, st, m, c)
	if err != nil {
		return err
	}
	if data == nil {
		log.Warn("output chunks missing (discarded by OUTPUT's limits?); the result keeps its excerpt", "count", c.Count)
		a.refused("incomplete")
		return a.purge(ctx, st, m.Subject())
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != c.SHA256 {
		log.Warn("output chunks do not match their digest; dropped", "size", c.Size)
		a.refused("digest")
		return a.purge(ctx, st, m.Subject())
	}
	if err := a.Objects.Put(ctx, c.ResultID, c.Stream, c.PCID, c.SHA256, data); err != nil {
		return err
	}
	log.Debug("output assembled", "bytes", len(data), "chunks", c.Count)
	a.Metrics.Add("kanade_output_assembled_total", "Full outputs stored in result_output.", 1)
	a.Metrics.Add("kanade_output_assembled_bytes_total", "Bytes of full output stored in result_output.", float64(len(data)))
	return a.purge(ctx, st, m.Subject())
}

func (a *Assembler) refused(reason string) {
	a.Metrics.Add("kanade_output_refused_total", "Full outputs not stored (reason: foreign_pc, incomplete or digest).", 1, "reason", reason)
}

// collect reads the stream's chunks stored up to the last one (m) and puts
// them in place; nil when one is missing. Chunks of another attempt (a
// different digest) are ignored, a duplicate of one place is the same
// bytes.
func (a *Assembler) collect(ctx context.Context, st jetstream.Stream, m jetstream.Msg, last wire.OutputChunk) ([]byte, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("chunk metadata: %w", err)
	}
	parts := make([][]byte, last.Count)
	parts[last.Index] = last.Data
	for seq := uint64(1); seq < md.Sequence.Stream; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(m.Subject()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read chunk of %s: %w", m.Subject(), err)
		}
		seq = raw.Sequence + 1
		if raw.Sequence >= md.Sequence.Stream {
			break
		}
		c, err := wire.DecodeOutputChunk(raw.Subject, raw.Header, raw.Data)
		if err != nil || c.SHA256 != last.SHA256 || c.Size != last.Size {
			continue
		}
		parts[c.Index] = c.Data
	}
	for _, p := range parts {
		if p == nil {
			return nil, nil
		}
	}
	return bytes.Join(parts, nil), nil
}

// purge removes every chunk of one stream's output from OUTPUT.
func (a *Assembler) purge(ctx context.Context, st jetstream.Stream, subject string) error {
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		// Not worth a retry: OUTPUT's age limit removes them anyway.
		a.Log.Warn("purging assembled output chunks", "subject", subject, "error", err)
	}
	return nil
}
