package intake

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Msg is a stored stream message returned by a direct get.
type Msg struct {
	Subject string
	Seq     uint64
	Data    []byte
	Header  nats.Header
	Time    time.Time // when the stream stored it (Nats-Time-Stamp); zero if absent
}

// LastMsg reads the last message stored on subject in stream with a direct
// get ($JS.API.DIRECT.GET.<stream>.<subject>): one request, no consumer and
// no stream-info round trip, so thousands of agents can catch up without the
// broker keeping state for any of them. found is false when there is none.
func LastMsg(ctx context.Context, nc *nats.Conn, stream, subject string) (Msg, bool, error) {
	req := nats.NewMsg("$JS.API.DIRECT.GET." + stream + "." + subject)
	resp, err := nc.RequestMsgWithContext(ctx, req)
	if err != nil {
		return Msg{}, false, fmt.Errorf("direct get %s %s: %w", stream, subject, err)
	}
	if st := resp.Header.Get("Status"); st != "" {
		if st == "404" {
			return Msg{}, false, nil
		}
		return Msg{}, false, fmt.Errorf("direct get %s %s: status %s %s", stream, subject, st, resp.Header.Get("Description"))
	}
	seq, _ := strconv.ParseUint(resp.Header.Get("Nats-Sequence"), 10, 64)
	// Every stored message's answer names its subject; callers compare it
	// with what they asked for rather than trust the request.
	subj := resp.Header.Get("Nats-Subject")
	if subj == "" {
		return Msg{}, false, fmt.Errorf("direct get %s %s: answer without Nats-Subject", stream, subject)
	}
	at, _ := time.Parse(time.RFC3339Nano, resp.Header.Get("Nats-Time-Stamp"))
	return Msg{Subject: subj, Seq: seq, Data: resp.Data, Header: resp.Header, Time: at}, true, nil
}

// KVGet reads key from a KV bucket with a direct get. A deleted or purged
// key reads as absent; rev is the entry's revision (0 when never set).
func KVGet(ctx context.Context, nc *nats.Conn, bucket, key string) (val []byte, rev uint64, found bool, err error) {
	subj := "$KV." + bucket + "." + key
	m, ok, err := LastMsg(ctx, nc, "KV_"+bucket, subj)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	if m.Subject != subj {
		return nil, 0, false, fmt.Errorf("kv get %s/%s: answer is for %q", bucket, key, m.Subject)
	}
	switch m.Header.Get("KV-Operation") {
	case "DEL", "PURGE":
		return nil, m.Seq, false, nil
	}
	return m.Data, m.Seq, true, nil
}
