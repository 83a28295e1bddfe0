package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/store"
	kwire "github.com/kanade-fleet/kanade/internal/wire"
)

// buildBackend builds this command into the test's temp dir.
func buildBackend(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kanade-backend")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// bulk describes a batch of synthetic results: total results spread over
// execs executions named execPrefix-<i>, result ids resultPrefix-<n>; every
// 7th result fails; withStarted also publishes an EventStarted for every
// other result, racing its result on the other projector.
type bulk struct {
	execPrefix, resultPrefix string
	total, execs             int
	withStarted              bool
}

func (b bulk) execID(i int) string { return fmt.Sprintf("%s-%d", b.execPrefix, i%b.execs) }

// createExecutions inserts the parent rows, as POST /api/exec would.
func (b bulk) createExecutions(t *testing.T, db *store.DB, by string) {
	t.Helper()
	for i := 0; i < b.execs; i++ {
		if err := db.CreateExecution(context.Background(), apiv1.Execution{ExecID: b.execID(i), JobID: "job",
			Version: "1", InitiatedBy: by, TargetCount: b.total / b.execs}); err != nil {
			t.Fatal(err)
		}
	}
}

// publish sends the results (and started events) to JetStream and returns
// how many of them fail.
func (b bulk) publish(t *testing.T, nc *nats.Conn) (wantFail int) {
	t.Helper()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	// A loaded machine's broker can lag: wait for room rather than fail.
	stall := jetstream.WithStallWait(time.Minute)
	now := time.Now().UTC()
	for i := 0; i < b.total; i++ {
		r := kwire.ExecResult{ResultID: fmt.Sprintf("%s-%07d", b.resultPrefix, i), RequestID: "req", ExecID: b.execID(i),
			PCID: fmt.Sprintf("pc-%05d", i/b.execs), ManifestID: "job", Version: "1", StartedAt: now, FinishedAt: now, Stdout: "ok"}
		if i%7 == 0 {
			r.ExitCode, wantFail = 1, wantFail+1
		}
		data, _ := json.Marshal(r)
		if _, err := js.PublishAsync(bus.ResultFrom(r.PCID, r.RequestID), data, stall); err != nil {
			t.Fatal(err)
		}
		if b.withStarted && i%2 == 0 {
			s := kwire.EventStarted{ResultID: r.ResultID, RequestID: r.RequestID, ExecID: r.ExecID, PCID: r.PCID,
				StartedAt: now, ManifestID: "job", Version: "1"}
			data, _ := json.Marshal(s)
			if _, err := js.PublishAsync(bus.EventStarted(s.ExecID, s.PCID), data, stall); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		t.Fatal("publishing did not complete")
	}
	return wantFail
}
