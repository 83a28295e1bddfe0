package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// env is one CLI test world: a real backend (embedded broker, SQLite) and
// a config dir for `kanade login`.
type env struct {
	t       *testing.T
	b       *server.Server
	backend string
	natsURL string
	cfgDir  string
	vars    map[string]string
	tty     bool
	agents  map[string]*agent.Agent
}

func newEnv(t *testing.T, mutate func(*server.Config)) *env {
	t.Helper()
	b := testenv.Backend(t, mutate)
	return &env{t: t, b: b, backend: b.HTTPURL(), natsURL: b.NATSURL(), cfgDir: t.TempDir(), vars: map[string]string{},
		agents: map[string]*agent.Agent{}}
}

type cliOut struct {
	code     int
	out, err string
}

func (e *env) opts(stdin string, stdout, stderr *bytes.Buffer) Options {
	vars := map[string]string{"KANADE_BACKEND_URL": e.backend, "KANADE_NATS_URL": e.natsURL}
	for k, v := range e.vars {
		vars[k] = v
	}
	return Options{
		In: strings.NewReader(stdin), Out: stdout, Err: stderr,
		Getenv:       func(k string) string { return vars[k] },
		ConfigDir:    func() (string, error) { return e.cfgDir, nil },
		IsTerminal:   func(any) bool { return e.tty },
		ReadPassword: readLine,
		TimeText:     func(time.Time, time.Time) string { return "<time>" },
		DurText:      func(time.Duration) string { return "<dur>" },
		PollEvery:    50 * time.Millisecond,
	}
}

// cli runs the CLI in-process.
func (e *env) cli(args ...string) cliOut { return e.cliIn("", args...) }

func (e *env) cliIn(stdin string, args ...string) cliOut {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, e.opts(stdin, &out, &errb))
	return cliOut{code: code, out: out.String(), err: errb.String()}
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.cli(args...)
	if r.code != 0 {
		e.t.Fatalf("kanade %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// jsonOK runs the CLI with -o json and decodes stdout into v.
func (e *env) jsonOK(v any, args ...string) {
	e.t.Helper()
	out := e.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("kanade %s -o json: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// routeMissing reports whether the backend under test lacks a route.
func (e *env) routeMissing(method, path string) bool {
	req, _ := http.NewRequest(method, e.backend+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return (res.StatusCode == http.StatusNotFound && body.Error == "no such API route") || res.StatusCode == http.StatusMethodNotAllowed
}

// needRoute fails the test (never skips it) when the backend lacks a
// route the test exercises: a missing route is a regression to see.
func (e *env) needRoute(method, path string) {
	e.t.Helper()
	if e.routeMissing(method, path) {
		e.t.Fatalf("backend has no %s %s route", method, path)
	}
}

// startAgent runs a real in-process agent and waits until the backend
// lists it online.
func (e *env) startAgent(pc string) {
	e.t.Helper()
	ag, err := agent.New(agent.Options{PCID: pc, NATSURL: e.natsURL, DataDir: filepath.Join(e.t.TempDir(), pc),
		Logger: testenv.Logger(), Version: "9.9.9"})
	if err != nil {
		e.t.Fatal(err)
	}
	if e.agents == nil {
		e.agents = map[string]*agent.Agent{}
	}
	e.agents[pc] = ag
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ag.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(e.t, 30*time.Second, "agent "+pc+" online", func() bool {
		a, err := (&apiv1.Client{Base: e.backend}).GetAgent(ctx, pc)
		return err == nil && a.Online
	})
}

var (
	uuidRe  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	splitRe = regexp.MustCompile(`\s{2,}`)
)

// normalize replaces values that differ between runs and machines, then
// re-aligns each block of lines so column widths do not depend on them.
func normalize(s string, repl ...string) string {
	s = uuidRe.ReplaceAllString(s, "<uuid>")
	for i := 0; i+1 < len(repl); i += 2 {
		if repl[i] != "" {
			s = strings.ReplaceAll(s, repl[i], repl[i+1])
		}
	}
	var out bytes.Buffer
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			_ = tw.Flush()
			out.WriteString("\n")
			continue
		}
		tw.Write([]byte(strings.Join(splitRe.Split(strings.TrimRight(line, " "), -1), "\t") + "\n"))
	}
	_ = tw.Flush()
	return out.String()
}

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- want\n%s--- got\n%s", path, want, got)
	}
}
