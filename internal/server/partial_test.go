package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestBrokerDiesMidFanout (issue 14 item 6): the broker is shut down while
// a 1 000-PC exec (one subject per PC) is being published. The response
// says how many subjects were sent and which were not, the execution row
// agrees and counts only the PCs reached, an exec sent while the broker is
// down is a 503 with Retry-After, and once the broker is back the audit
// and EXECS have the partial fan-out too.
func TestBrokerDiesMidFanout(t *testing.T) {
	addr, store := testenv.FreeAddr(t), filepath.Join(t.TempDir(), "js")
	br, err := broker.Start(broker.Options{Addr: addr, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Shutdown() })
	b := testenv.Backend(t, func(c *server.Config) { c.NATSURL = "nats://" + addr; c.MaxReconnects = 1000 })
	s := open(b)
	must(t, s.do(t, "POST", "/api/jobs", map[string]any{"id": "wide", "version": "1.0.0",
		"execute": map[string]any{"shell": "sh", "script": "true", "timeout": "30s"}}), 201)

	const n = 1000
	pcs := make([]string, n)
	for i := range pcs {
		pcs[i] = fmt.Sprintf("pc-%04d", i)
	}
	testenv.Eventually(t, 60*time.Second, "1 000 PCs online", func() bool {
		for _, pc := range pcs {
			hb, _ := json.Marshal(wire.Heartbeat{PCID: pc, Hostname: pc, OSFamily: "linux", At: time.Now().UTC()})
			_ = b.NC.Publish(bus.Heartbeat(pc), hb)
		}
		online, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
		return err == nil && len(online) == n
	})

	// The broker dies once 300 commands went through.
	watch, err := nats.Connect("nats://"+addr, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	killed := make(chan struct{})
	if _, err := watch.Subscribe("commands.pc.>", func(*nats.Msg) {
		if seen.Add(1) == 300 {
			go func() { br.Shutdown(); close(killed) }()
		}
	}); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/api/exec/wide", map[string]any{"target": map[string]any{"pcs": pcs}})
	<-killed
	if r.status != 502 {
		t.Fatalf("mid-fan-out failure: status %d, want 502: %.300s", r.status, r.body)
	}
	var resp apiv1.ExecResponse
	r.json(t, &resp)
	sent := resp.SubjectsSent
	if sent < 300 || sent >= n || len(resp.SubjectsFailed) != n-sent || resp.TargetCount != sent ||
		!strings.Contains(resp.Error, fmt.Sprintf("%d of %d subjects sent", sent, n)) {
		t.Fatalf("response: sent %d, failed %d, target %d, error %q", sent, len(resp.SubjectsFailed), resp.TargetCount, resp.Error)
	}
	wantFailed := make([]string, 0, n-sent)
	for _, pc := range pcs[sent:] {
		wantFailed = append(wantFailed, bus.CommandsPC(pc))
	}
	if !slices.Equal(resp.SubjectsFailed, wantFailed) {
		t.Fatalf("failed subjects are not the plan's tail after %d: %v…", sent, resp.SubjectsFailed[:3])
	}
	// The row (the API reads SQL, which needs no broker) says the same.
	var row apiv1.ExecutionDetail
	must(t, s.do(t, "GET", "/api/executions/"+resp.ExecID, nil), 200).json(t, &row)
	if row.SubjectsSent != sent || !slices.Equal(row.SubjectsFailed, wantFailed) || row.TargetCount != sent ||
		row.Status != apiv1.ExecPending || row.PendingWaves != 0 {
		t.Fatalf("execution row: sent %d failed %d target %d status %s", row.SubjectsSent, len(row.SubjectsFailed), row.TargetCount, row.Status)
	}

	// With the broker down nothing can be sent: 503, retry later.
	down := s.do(t, "POST", "/api/exec/wide", map[string]any{"target": map[string]any{"pcs": pcs[:1]}})
	if down.status != 503 || down.hdr.Get("Retry-After") == "" {
		t.Fatalf("exec with the broker down: %d (Retry-After %q): %s", down.status, down.hdr.Get("Retry-After"), down.body)
	}
	run := s.do(t, "POST", "/api/run", map[string]any{"pc_id": "pc-0000", "shell": "sh", "script": "true"})
	if run.status != 503 || run.hdr.Get("Retry-After") == "" {
		t.Fatalf("run with the broker down: %d: %s", run.status, run.body)
	}

	// The broker comes back on its store: the held-back records go out.
	br2, err := broker.Start(broker.Options{Addr: addr, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br2.Shutdown() })
	testenv.Eventually(t, 60*time.Second, "the partial fan-out audited", func() bool {
		var entries []apiv1.AuditEntry
		r := s.do(t, "GET", "/api/audit?action=exec.partial", nil)
		if r.status != 200 {
			return false
		}
		r.json(t, &entries)
		for _, e := range entries {
			if strings.Contains(string(e.Payload), resp.ExecID) && strings.Contains(string(e.Payload), `"subjects_sent":`+fmt.Sprint(sent)) {
				return true
			}
		}
		return false
	})
	testenv.Eventually(t, 30*time.Second, "the fan-out outcome on EXECS", func() bool {
		st, err := b.JS.Stream(context.Background(), bus.StreamExecs)
		if err != nil {
			return false
		}
		m, err := st.GetLastMsgForSubject(context.Background(), bus.ExecRequested(resp.ExecID))
		if err != nil {
			return false
		}
		e, err := wire.DecodeExecRequested(m.Data)
		return err == nil && e.Kind == wire.ExecFanoutKind && e.SubjectsSent == sent && len(e.SubjectsFailed) == n-sent
	})
	// Every subject reported sent is in EXEC; of those reported failed, at
	// most the one in flight when the broker died may have been stored.
	st, err := b.JS.Stream(context.Background(), bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for i, pc := range pcs {
		m, err := st.GetLastMsgForSubject(context.Background(), bus.CommandsPC(pc))
		ok := err == nil && strings.Contains(string(m.Data), resp.ExecID)
		switch {
		case i < sent && !ok:
			t.Fatalf("%s reported sent but not in EXEC: %v", pc, err)
		case i >= sent && ok:
			stored++
		}
	}
	if stored > 1 {
		t.Fatalf("%d subjects reported failed are in EXEC", stored)
	}
}
