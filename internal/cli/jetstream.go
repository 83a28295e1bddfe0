package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// JetStream status, as shown by `kanade jetstream status -o json`.
type jsStatus struct {
	Streams      []jsStream `json:"streams"`
	KV           []jsKV     `json:"kv"`
	ObjectStores []jsObj    `json:"object_stores"`
}

type jsStream struct {
	Name      string       `json:"name"`
	Subjects  []string     `json:"subjects"`
	Messages  uint64       `json:"messages"`
	Bytes     uint64       `json:"bytes"`
	Consumers []jsConsumer `json:"consumers"`
}

type jsConsumer struct {
	Name       string `json:"name"`
	Lag        uint64 `json:"lag"`         // messages not yet delivered
	AckPending int    `json:"ack_pending"` // delivered, not yet acknowledged
}

type jsKV struct {
	Bucket string `json:"bucket"`
	Values uint64 `json:"values"`
	Bytes  uint64 `json:"bytes"`
}

type jsObj struct {
	Bucket string `json:"bucket"`
	Size   uint64 `json:"size"`
}

func (a *app) jetstreamCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "jetstream", Short: "Inspect the broker's JetStream resources"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Streams (messages, bytes, consumers and their lag), KV buckets, object stores",
		Long:  "Read straight from the NATS broker (not the backend), so it works while the backend is down.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := jetstreamStatus(ctx, js)
			if err != nil {
				return fmt.Errorf("read JetStream status from %s: %w", a.natsURL, err)
			}
			return a.emitValue(st, func(w io.Writer) error { return a.printJSStatus(w, st) })
		},
	})
	return cmd
}

func jetstreamStatus(ctx context.Context, js jetstream.JetStream) (jsStatus, error) {
	st := jsStatus{Streams: []jsStream{}, KV: []jsKV{}, ObjectStores: []jsObj{}}
	sl := js.ListStreams(ctx)
	var infos []*jetstream.StreamInfo
	for si := range sl.Info() {
		infos = append(infos, si)
	}
	if err := sl.Err(); err != nil {
		return st, err
	}
	for _, si := range infos {
		// KV buckets and object stores are streams underneath; they get
		// their own sections.
		if strings.HasPrefix(si.Config.Name, "KV_") || strings.HasPrefix(si.Config.Name, "OBJ_") {
			continue
		}
		s := jsStream{Name: si.Config.Name, Subjects: si.Config.Subjects, Messages: si.State.Msgs, Bytes: si.State.Bytes, Consumers: []jsConsumer{}}
		stream, err := js.Stream(ctx, si.Config.Name)
		if err != nil {
			return st, err
		}
		cl := stream.ListConsumers(ctx)
		for ci := range cl.Info() {
			s.Consumers = append(s.Consumers, jsConsumer{Name: ci.Name, Lag: ci.NumPending, AckPending: ci.NumAckPending})
		}
		if err := cl.Err(); err != nil {
			return st, err
		}
		sort.Slice(s.Consumers, func(i, j int) bool { return s.Consumers[i].Name < s.Consumers[j].Name })
		st.Streams = append(st.Streams, s)
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Name < st.Streams[j].Name })
	kl := js.KeyValueStores(ctx)
	for s := range kl.Status() {
		st.KV = append(st.KV, jsKV{Bucket: s.Bucket(), Values: s.Values(), Bytes: s.Bytes()})
	}
	if err := kl.Error(); err != nil {
		return st, err
	}
	sort.Slice(st.KV, func(i, j int) bool { return st.KV[i].Bucket < st.KV[j].Bucket })
	ol := js.ObjectStores(ctx)
	for s := range ol.Status() {
		st.ObjectStores = append(st.ObjectStores, jsObj{Bucket: s.Bucket(), Size: s.Size()})
	}
	if err := ol.Error(); err != nil {
		return st, err
	}
	sort.Slice(st.ObjectStores, func(i, j int) bool { return st.ObjectStores[i].Bucket < st.ObjectStores[j].Bucket })
	return st, nil
}

func (a *app) printJSStatus(w io.Writer, st jsStatus) error {
	fmt.Fprintln(w, "STREAMS")
	t := newTable(w, "NAME", "SUBJECTS", "MESSAGES", "BYTES", "CONSUMERS")
	for _, s := range st.Streams {
		t.row(s.Name, strings.Join(s.Subjects, ","), strconv.FormatUint(s.Messages, 10), bytesize.Format(s.Bytes), strconv.Itoa(len(s.Consumers)))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCONSUMERS")
	t = newTable(w, "STREAM", "CONSUMER", "LAG", "ACK_PENDING")
	for _, s := range st.Streams {
		for _, c := range s.Consumers {
			t.row(s.Name, c.Name, strconv.FormatUint(c.Lag, 10), strconv.Itoa(c.AckPending))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nKV BUCKETS")
	t = newTable(w, "BUCKET", "VALUES", "BYTES")
	for _, k := range st.KV {
		t.row(k.Bucket, strconv.FormatUint(k.Values, 10), bytesize.Format(k.Bytes))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOBJECT STORES")
	t = newTable(w, "BUCKET", "SIZE")
	for _, o := range st.ObjectStores {
		t.row(o.Bucket, bytesize.Format(o.Size))
	}
	return t.flush()
}
