package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// start runs a backend with the orchestration routes and a fast wave
// dispatcher. dir and natsAddr may be "" (fresh); a restart passes the
// previous ones so the database and the JetStream store carry over.
func start(t *testing.T, dir, natsAddr string) *server.Server {
	t.Helper()
	return testenv.Backend(t, func(c *server.Config) {
		if dir != "" {
			c.DataDir = dir
		}
		if natsAddr != "" {
			c.NATSAddr = natsAddr
		}
		c.WavePoll = 50 * time.Millisecond
		c.RunGrace = 300 * time.Millisecond
	})
}

type resp struct {
	status int
	body   []byte
	hdr    http.Header
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) field(t *testing.T) string {
	t.Helper()
	var e struct{ Error, Field string }
	r.json(t, &e)
	return e.Field
}

func call(t *testing.T, b *server.Server, method, path, ctype string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(v))
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	req, err := http.NewRequest(method, b.HTTPURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: data, hdr: res.Header}
}

func must(t *testing.T, r resp, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// startAgent runs a real in-process agent against b's broker.
func startAgent(t *testing.T, natsURL, pc, dataDir string) (a *agent.Agent, stop func()) {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	a, err := agent.New(agent.Options{PCID: pc, NATSURL: natsURL, DataDir: dataDir, Version: "test", Logger: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return a, stop
}

// fleet starts agents with groups and waits until the backend sees them
// online in those groups and the agents have subscribed to them.
func fleet(t *testing.T, b *server.Server, members map[string][]string) map[string]*agent.Agent {
	t.Helper()
	out := map[string]*agent.Agent{}
	for pc, groups := range members {
		if len(groups) > 0 {
			must(t, call(t, b, "PUT", "/api/agents/"+pc+"/groups", "", map[string]any{"groups": groups}), 200)
		}
		a, _ := startAgent(t, b.NATSURL(), pc, "")
		out[pc] = a
	}
	for pc, groups := range members {
		a := out[pc]
		testenv.Eventually(t, 30*time.Second, pc+" online with its groups", func() bool {
			if !slices.Equal(a.Groups(), sorted(groups)) {
				return false
			}
			online, err := b.DB.OnlinePCs(context.Background(), time.Now(), "")
			if err != nil || !slices.Contains(online, pc) {
				return false
			}
			for _, g := range groups {
				in, err := b.DB.OnlinePCs(context.Background(), time.Now(), g)
				if err != nil || !slices.Contains(in, pc) {
					return false
				}
			}
			return true
		})
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		return nil
	}
	return slices.Compact(s)
}

const jobYAML = `# cleanup job (this comment must survive)
id: %s
version: "%s"
description: test job
execute:
  shell: sh
  script: %s
  timeout: 60s
`

type execution = apiv1.ExecutionDetail

func getExec(t *testing.T, b *server.Server, id string) execution {
	t.Helper()
	var e execution
	must(t, call(t, b, "GET", "/api/executions/"+id, "", nil), 200).json(t, &e)
	return e
}

// waitExec waits for an execution to complete and returns it.
func waitExec(t *testing.T, b *server.Server, id string, done func(execution) bool) execution {
	t.Helper()
	var e execution
	testenv.Eventually(t, 60*time.Second, "execution "+id+" to finish", func() bool {
		e = getExec(t, b, id)
		return done(e)
	})
	return e
}

func completed(e execution) bool { return e.Status == "completed" }

func pcsOf(rows []apiv1.Result) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.PCID)
	}
	slices.Sort(out)
	return out
}

func kv(t *testing.T, b *server.Server, bucket string) jetstream.KeyValue {
	t.Helper()
	k, err := b.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keys(t *testing.T, b *server.Server, bucket string) []string {
	t.Helper()
	ks, err := kv(t, b, bucket).Keys(context.Background())
	if err != nil && err != jetstream.ErrNoKeysFound {
		t.Fatal(err)
	}
	return ks
}

// subjectCount is how many messages EXEC holds on subject (0 or 1).
func subjectCount(t *testing.T, b *server.Server, subject string) uint64 {
	t.Helper()
	s, err := b.JS.Stream(context.Background(), bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func execLastSeq(t *testing.T, b *server.Server) uint64 {
	t.Helper()
	s, err := b.JS.Stream(context.Background(), bus.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}
