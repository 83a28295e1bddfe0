package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// natsProc is one nats-server process of a test cluster.
type natsProc struct {
	name, url string
	cmd       *exec.Cmd
}

// natsCluster starts n nats-server processes (built from the nats-server
// module kanade already depends on) with JetStream, routed to each other on
// loopback, and waits until JetStream has a meta leader.
func natsCluster(t *testing.T, n int) []*natsProc {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats://" + testenv.FreeAddr(t)
	}
	procs := make([]*natsProc, n)
	for i := range procs {
		addr := testenv.FreeAddr(t)
		_, port, _ := strings.Cut(addr, ":")
		name := fmt.Sprintf("kanade-n%d", i)
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", port, "-n", name, "-js", "-sd", t.TempDir(),
			"--cluster_name", "kanade", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		procs[i] = &natsProc{name: name, url: "nats://" + addr, cmd: cmd}
	}
	var nc *nats.Conn
	testenv.Eventually(t, 30*time.Second, "servers accept clients", func() bool {
		for _, p := range procs {
			c, err := nats.Connect(p.url)
			if err != nil {
				return false
			}
			if nc == nil {
				nc = c
			} else {
				c.Close()
			}
		}
		return true
	})
	defer nc.Close()
	js, _ := jetstream.New(nc)
	testenv.Eventually(t, 60*time.Second, "JetStream cluster meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return procs
}

// TestClusterBroadcastSurvivesServerLoss runs a backend on a three-process
// nats-server JetStream cluster (--nats-url with all three, --replicas 3) and real
// agents spread over the servers, kills one server during a broadcast, and
// checks the run completes with every result projected exactly once.
func TestClusterBroadcastSurvivesServerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("three-server JetStream cluster")
	}
	servers := natsCluster(t, 3)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.url)
	}
	b := testenv.Backend(t, func(c *server.Config) {
		c.NATSURL, c.NATSAddr, c.Replicas = strings.Join(urls, ", "), "", 3
	})
	ctx := context.Background()

	// Every stream, KV bucket and the object store are replicated 3 ways.
	var names []string
	for _, sc := range bus.StreamConfigs(3) {
		names = append(names, sc.Name)
	}
	for _, kc := range bus.KVConfigs(3) {
		names = append(names, "KV_"+kc.Bucket)
	}
	names = append(names, "OBJ_"+bus.ObjAgentRelease)
	for _, name := range names {
		st, err := b.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s has %d replicas, want 3", name, r)
		}
	}

	// Agents, two per server, each given only its own server's URL: after
	// that server dies they reconnect through the cluster's gossiped URLs.
	const agents = 6
	for i := range agents {
		pc := fmt.Sprintf("pc-c%d", i)
		a, err := agent.New(agent.Options{PCID: pc, NATSURL: urls[i%3], DataDir: t.TempDir(), Version: "test", Logger: testenv.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		actx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = a.Run(actx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	testenv.Eventually(t, 60*time.Second, "all agents online", func() bool {
		pcs, err := b.DB.OnlinePCs(ctx, time.Now(), "")
		return err == nil && len(pcs) == agents
	})

	job := "id: slow\nversion: \"1\"\nexecute:\n  shell: sh\n  script: sleep 2; echo done\n  timeout: 60s\n"
	if st, body := post(t, b, "/api/jobs", "application/yaml", job); st != 201 {
		t.Fatalf("job: %d %s", st, body)
	}
	st, body := post(t, b, "/api/exec/slow", "application/json", `{"target": {"all": true}}`)
	if st != 200 {
		t.Fatalf("exec: %d %s", st, body)
	}
	var ex apiv1.ExecResponse
	if err := json.Unmarshal(body, &ex); err != nil || ex.TargetCount != agents {
		t.Fatalf("exec response %s (%v)", body, err)
	}
	// Kill the server the backend is connected to while the scripts run.
	testenv.Eventually(t, 30*time.Second, "runs started", func() bool {
		e, _, _ := b.DB.GetExecution(ctx, ex.ExecID)
		return e.Status == "running"
	})
	victim := servers[0]
	for _, s := range servers {
		if s.name == b.NC.ConnectedServerName() {
			victim = s
		}
	}
	if err := victim.cmd.Process.Kill(); err != nil { // kill -9
		t.Fatal(err)
	}
	t.Logf("killed %s (-9) during the broadcast", victim.name)

	testenv.Eventually(t, 2*time.Minute, "broadcast completed", func() bool {
		e, _, _ := b.DB.GetExecution(ctx, ex.ExecID)
		return e.Status == "completed"
	})
	rows, total, err := b.DB.ListResults(ctx, store.ResultFilter{ExecID: ex.ExecID}, store.Page{Limit: 100})
	if err != nil || total != agents || len(rows) != agents {
		t.Fatalf("results: %d rows (total %d) %v", len(rows), total, err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.PCID] || r.ExitCode == nil || *r.ExitCode != 0 {
			t.Fatalf("result %+v (duplicate PC or failed)", r)
		}
		seen[r.PCID] = true
	}
	// Redeliveries after the failover change nothing: the consumers drain
	// and the counters stay exact.
	testenv.Eventually(t, time.Minute, "results consumer drained", func() bool {
		c, err := b.JS.Consumer(ctx, bus.StreamResults, bus.ConsumerResults)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	e, _, _ := b.DB.GetExecution(ctx, ex.ExecID)
	if e.SuccessCount != agents || e.FailureCount != 0 || e.Status != "completed" {
		t.Fatalf("execution %+v", e)
	}
	if _, total, _ := b.DB.ListResults(ctx, store.ResultFilter{ExecID: ex.ExecID}, store.Page{Limit: 1}); total != agents {
		t.Fatalf("%d rows after drain, want %d", total, agents)
	}
}

func post(t *testing.T, b *server.Server, path, ctype, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(b.HTTPURL()+path, ctype, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}
