package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func needSh(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("scripts in these tests are POSIX sh")
	}
}

func hostname() string { h, _ := os.Hostname(); return h }

// TestFleet drives the read side and the NATS commands against one backend
// with two real agents.
func TestFleet(t *testing.T) {
	needSh(t)
	e := newEnv(t, nil)
	e.startAgent("pc-a")
	e.startAgent("pc-b")
	host := hostname()
	var hb wire.Heartbeat
	e.jsonOK(&hb, "ping", "pc-a")
	machine := []string{host, "<host>", hb.OSVersion, "<osver>", runtime.GOARCH, "<arch>", hb.OSFamily, "<os>"}

	t.Run("agents list", func(t *testing.T) {
		golden(t, "agents_list", normalize(e.ok("agents", "list"), machine...))
		var rows []apiv1.Agent
		e.jsonOK(&rows, "agents", "list")
		if len(rows) != 2 || rows[0].PCID != "pc-a" || !rows[0].Online || rows[1].AgentVersion != "9.9.9" {
			t.Fatalf("agents -o json: %+v", rows)
		}
		if got := e.ok("agents", "list", "-q"); got != "pc-a\npc-b\n" {
			t.Fatalf("agents list -q = %q", got)
		}
		if got := e.ok("agents", "list", "-q", "--status", "offline"); got != "" {
			t.Fatalf("agents list -q --status offline = %q", got)
		}
		if r := e.cli("agents", "list", "--status", "sleepy"); r.code != 2 {
			t.Fatalf("bad --status: exit %d, want 2", r.code)
		}
		y := e.ok("agents", "list", "-o", "yaml")
		if !strings.Contains(y, "pc_id: pc-a") {
			t.Fatalf("-o yaml:\n%s", y)
		}
	})

	t.Run("agents show", func(t *testing.T) {
		golden(t, "agents_show", normalize(e.ok("agents", "show", "pc-b"), machine...))
	})

	t.Run("ping", func(t *testing.T) {
		golden(t, "ping", normalize(e.ok("ping", "pc-a"), machine...))
		if hb.PCID != "pc-a" || hb.AgentVersion != "9.9.9" {
			t.Fatalf("ping -o json: %+v", hb)
		}
		r := e.cli("ping", "nobody", "--timeout", "300ms")
		if r.code != 1 || !strings.Contains(r.err, "agent nobody did not answer") {
			t.Fatalf("ping of an absent agent: %+v", r)
		}
	})

	t.Run("run", func(t *testing.T) {
		r := e.cli("run", "pc-a", "--", "printf 'out\\nline2'; printf 'err' >&2; exit 3")
		if r.code != 3 || r.out != "out\nline2" || r.err != "err" {
			t.Fatalf("run: %+v", r)
		}
		r = e.cli("run", "pc-b", "--", "echo", "hello", "world")
		if r.code != 0 || r.out != "hello world\n" || r.err != "" {
			t.Fatalf("run: %+v", r)
		}
		r = e.cliIn("echo from stdin\n", "run", "pc-b", "--", "-")
		if r.code != 0 || r.out != "from stdin\n" {
			t.Fatalf("run -: %+v", r)
		}
		var res wire.ExecResult
		e.jsonOK(&res, "run", "pc-a", "--json", "--exec-id", "my-exec", "--", "echo hi; exit 0")
		if res.PCID != "pc-a" || res.ExitCode != 0 || res.Stdout != "hi\n" || res.ExecID != "my-exec" || res.ManifestID != wire.AdhocJobID {
			t.Fatalf("run --json: %+v", res)
		}
		r = e.cli("run", "pc-a", "--timeout", "1s", "--", "sleep 5")
		if r.code != 1 || !strings.Contains(r.err, "timed out") {
			t.Fatalf("run with timeout: %+v", r)
		}
		if r := e.cli("run", "pc-a", "--deadline", "2h", "--", "echo in time"); r.code != 0 || r.out != "in time\n" {
			t.Fatalf("run --deadline: %+v", r)
		}
		for _, dl := range []string{"0s", "-5m", "200h"} {
			if r := e.cli("run", "pc-a", "--deadline", dl, "--", "true"); r.code != 2 || !strings.Contains(r.err, "--deadline") {
				t.Fatalf("--deadline %s: %+v", dl, r)
			}
		}
		if r := e.cli("run", "pc-a", "--shell", "tcsh", "--", "true"); r.code != 2 {
			t.Fatalf("bad shell: %+v", r)
		}
		if r := e.cli("run", "pc-a"); r.code != 2 || !strings.Contains(r.err, "no script") {
			t.Fatalf("no script: %+v", r)
		}
		if r := e.cli("run", "bad.pc", "--", "true"); r.code != 2 {
			t.Fatalf("bad pc: %+v", r)
		}
	})

	t.Run("results and executions", func(t *testing.T) {
		testenv.Eventually(t, 20*time.Second, "run results projected", func() bool {
			var rows []apiv1.Result
			e.jsonOK(&rows, "results", "list", "--pc", "pc-a", "--exec", "my-exec")
			return len(rows) == 1 && rows[0].Status == "success"
		})
		out := e.ok("results", "list", "--exec", "my-exec")
		golden(t, "results_list", normalize(out))
		var rows []apiv1.Result
		e.jsonOK(&rows, "results", "list", "--exec", "my-exec")
		show := e.ok("results", "show", rows[0].ResultID)
		if !strings.Contains(show, "--- stdout ---\nhi\n") {
			t.Fatalf("results show:\n%s", show)
		}
		golden(t, "results_show", normalize(show))
		if r := e.cli("results", "output", rows[0].ResultID); r.code != 0 || r.out != "hi\n" || r.err != "" {
			t.Fatalf("results output: %+v", r)
		}
		if r := e.cli("results", "output", rows[0].ResultID, "--stream", "stdin"); r.code != 2 {
			t.Fatalf("bad stream: %+v", r)
		}
		// A long output: `run` prints the excerpt, `results output` all of it.
		var big wire.ExecResult
		e.jsonOK(&big, "run", "pc-a", "--json", "--", `awk 'BEGIN{for(i=0;i<8192;i++) printf "%063d\n", i}'`)
		var want strings.Builder
		for i := range 8192 {
			fmt.Fprintf(&want, "%063d\n", i)
		}
		if big.StdoutRef == "" || len(big.Stdout) >= want.Len() {
			t.Fatalf("long run: ref %q, %d bytes inline", big.StdoutRef, len(big.Stdout))
		}
		testenv.Eventually(t, 20*time.Second, "long output stored", func() bool {
			r := e.cli("results", "output", big.ResultID)
			return r.code == 0 && r.out == want.String() && r.err == ""
		})
		testenv.Eventually(t, 20*time.Second, "results show names the whole output", func() bool {
			return strings.Contains(e.ok("results", "show", big.ResultID),
				"--- stdout (head and tail; all of it: kanade results output "+big.ResultID+" --stream stdout) ---")
		})
		if r := e.cli("results", "list", "--status", "nope"); r.code != 2 {
			t.Fatalf("bad status: %+v", r)
		}
		if r := e.cli("results", "show", "no-such-result"); r.code != 1 || r.err != "kanade: no result no-such-result\n" {
			t.Fatalf("missing result: %+v", r)
		}
		e.ok("executions", "list")
	})

	t.Run("kill", func(t *testing.T) {
		done := make(chan cliOut, 1)
		go func() { done <- e.cli("run", "pc-b", "--exec-id", "to-kill", "--", "echo started; sleep 30") }()
		// Kill until the run reports back: the first kill may precede the
		// run's execution row (unknown id: exit 1) or its start.
		deadline := time.Now().Add(20 * time.Second)
		var r cliOut
	loop:
		for {
			k := e.cli("kill", "to-kill")
			if k.code != 0 && (k.code != 1 || !strings.Contains(k.err, "kanade: no execution to-kill")) ||
				k.code == 0 && !strings.Contains(k.out, "kill sent for execution to-kill") {
				t.Fatalf("kill: %+v", k)
			}
			select {
			case r = <-done:
				break loop
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("run was not killed")
			}
		}
		if r.code != 1 || !strings.Contains(r.err, "killed on pc-b") {
			t.Fatalf("killed run: %+v", r)
		}
		var k map[string]string
		e.jsonOK(&k, "kill", "to-kill")
		if k["subject"] != "kill.to-kill" {
			t.Fatalf("kill -o json: %v", k)
		}
		// An id the backend never saw: not a success that killed nothing.
		if r := e.cli("kill", "x1"); r.code != 1 || r.err != "kanade: no execution x1\n" {
			t.Fatalf("kill x1: %+v", r)
		}
		if r := e.cli("kill", "a.b"); r.code != 2 {
			t.Fatalf("kill a.b: %+v", r)
		}
	})

	t.Run("groups list", func(t *testing.T) {
		golden(t, "groups_list", normalize(e.ok("groups", "list")))
		var g []map[string]any
		e.jsonOK(&g, "groups", "list")
	})

	t.Run("jetstream status", func(t *testing.T) {
		var st jsStatus
		e.jsonOK(&st, "jetstream", "status")
		names := map[string]jsStream{}
		for _, s := range st.Streams {
			names[s.Name] = s
		}
		for _, n := range []string{bus.StreamExec, bus.StreamEvents, bus.StreamResults, bus.StreamAudit} {
			if _, ok := names[n]; !ok {
				t.Fatalf("stream %s missing: %+v", n, st.Streams)
			}
		}
		if names[bus.StreamResults].Messages == 0 || len(names[bus.StreamResults].Consumers) == 0 {
			t.Fatalf("RESULTS: %+v", names[bus.StreamResults])
		}
		kvs := map[string]bool{}
		for _, k := range st.KV {
			kvs[k.Bucket] = true
		}
		if !kvs[bus.KVJobs] || !kvs[bus.KVAgentGroups] || len(st.ObjectStores) == 0 {
			t.Fatalf("kv %v objects %v", st.KV, st.ObjectStores)
		}
		out := e.ok("jetstream", "status")
		for _, want := range []string{"STREAMS", "NAME  SUBJECTS", "CONSUMERS", "STREAM  CONSUMER  LAG  ACK_PENDING", "KV BUCKETS", "OBJECT STORES", "agent_releases"} {
			if !strings.Contains(splitRe.ReplaceAllString(out, "  "), want) {
				t.Fatalf("jetstream status lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestRunWithoutBackend: `kanade run` and `kill` with --signing-key need
// only the broker; without a key they need the backend; a key the fleet
// does not trust is refused by the agent (123) and nothing runs.
func TestRunWithoutBackend(t *testing.T) {
	needSh(t)
	dir := t.TempDir()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
		Authorization: "brokertoken"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start() // returns once listening; running it in a goroutine races with Shutdown
	if !srv.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(srv.Shutdown)
	url := srv.ClientURL()
	e := newEnv(t, func(c *server.Config) { c.NATSURL = url; c.NATSToken = "brokertoken" })
	e.vars["KANADE_NATS_TOKEN"] = "brokertoken"
	e.startAgentToken("pc-z", "brokertoken")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.b.Stop(ctx)
	cancel()
	if r := e.cli("agents", "list"); r.code != 1 || !strings.Contains(r.err, "cannot reach the backend at "+e.backend) {
		t.Fatalf("agents list with the backend down: %+v", r)
	}
	if r := e.cli("run", "pc-z", "--", "true"); r.code != 1 || !strings.Contains(r.err, "cannot reach the backend") {
		t.Fatalf("run without a signing key and the backend down: %+v", r)
	}
	e.vars["KANADE_SIGNING_KEY"] = server.SigningKeyPath(e.b.Cfg)
	r := e.cli("run", "pc-z", "--", "echo still here; exit 7")
	if r.code != 7 || r.out != "still here\n" {
		t.Fatalf("run with the backend down: %+v", r)
	}
	stranger, _ := sign.GenerateKey()
	strangerFile := filepath.Join(t.TempDir(), "other.key")
	if err := stranger.Save(strangerFile); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	r = e.cli("run", "pc-z", "--signing-key", strangerFile, "--", "touch "+marker)
	if r.code != 123 || !strings.Contains(r.err, "unknown key") {
		t.Fatalf("run signed by an untrusted key: %+v", r)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused command ran: %v", err)
	}
	if r := e.cli("run", "pc-z", "--signing-key", filepath.Join(t.TempDir(), "none"), "--", "true"); r.code != 1 || !strings.Contains(r.err, "--signing-key") {
		t.Fatalf("missing key file: %+v", r)
	}
	e.vars["KANADE_NATS_TOKEN"] = "wrong"
	if r := e.cli("run", "pc-z", "--", "true"); r.code != 1 || !strings.Contains(r.err, "nats-token") {
		t.Fatalf("run with a bad NATS token: %+v", r)
	}
	if r := e.cli("--nats-url", "nats://127.0.0.1:1", "run", "pc-z", "--", "true"); r.code != 1 || !strings.Contains(r.err, "nats://127.0.0.1:1") {
		t.Fatalf("run with no broker: %+v", r)
	}
}

func (e *env) startAgentToken(pc, token string) {
	e.t.Helper()
	nc, err := nats.Connect(e.natsURL, nats.Token(token))
	if err != nil {
		e.t.Fatal(err)
	}
	nc.Close()
	saved := e.natsURL
	e.natsURL = strings.Replace(saved, "nats://", "nats://"+token+"@", 1)
	e.startAgent(pc)
	e.natsURL = saved
}

// TestLogin: 401 says what to do; login stores a 0600 token that later
// commands send.
func TestLogin(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Auth = auth.Config{BootstrapAdminPassword: "correct-horse-battery"}
	})
	r := e.cli("agents", "list")
	if r.code != 1 || !strings.Contains(r.err, "run `kanade login`") || strings.Count(r.err, "\n") != 1 {
		t.Fatalf("unauthenticated: %+v", r)
	}
	r = e.cliIn("admin\nwrong-password\n", "login")
	if r.code != 1 || !strings.Contains(r.err, "login as admin failed") {
		t.Fatalf("bad password: %+v", r)
	}
	r = e.cliIn("admin\ncorrect-horse-battery\n", "login")
	if r.code != 0 || !strings.Contains(r.out, "logged in to "+e.backend+" as admin (role admin)") ||
		!strings.Contains(r.out, "run `kanade passwd`") {
		t.Fatalf("login: %+v", r)
	}
	// The bootstrap admin must change its password first (SPEC §16).
	if r := e.cli("agents", "list"); r.code != 1 || !strings.Contains(r.err, "password change required; run `kanade passwd`") {
		t.Fatalf("before passwd: %+v", r)
	}
	if r := e.cliIn("correct-horse-battery\nnew-horse-battery\n", "passwd", "--password-stdin"); r.code != 0 ||
		!strings.Contains(r.out, "password of admin changed") {
		t.Fatalf("passwd: %+v", r)
	}
	fi, err := os.Stat(filepath.Join(e.cfgDir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.toml mode %v, want 0600", fi.Mode().Perm())
	}
	var rows []apiv1.Agent
	e.jsonOK(&rows, "agents", "list")
	// --token (and KANADE_AUTH_TOKEN) win over the stored token.
	if r := e.cli("agents", "list", "--token", "garbage"); r.code != 1 || !strings.Contains(r.err, "kanade login") {
		t.Fatalf("--token garbage: %+v", r)
	}
	e.vars["KANADE_AUTH_TOKEN"] = "garbage"
	if r := e.cli("agents", "list"); r.code != 1 {
		t.Fatalf("KANADE_AUTH_TOKEN garbage: %+v", r)
	}
	delete(e.vars, "KANADE_AUTH_TOKEN")
	r = e.cliIn("new-horse-battery\n", "login", "-u", "admin", "--password-stdin", "-o", "json")
	var lr map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &lr) != nil || lr["role"] != "admin" {
		t.Fatalf("login -o json: %+v", r)
	}
	// The token went into context "default" of this backend (one token
	// per context): another backend's token is not stored over it.
	var ctxs []contextRow
	e.jsonOK(&ctxs, "config", "get-contexts")
	if len(ctxs) != 1 || ctxs[0].Name != "default" || !ctxs[0].Current || !ctxs[0].HasToken || ctxs[0].Server != e.backend {
		t.Fatalf("contexts after login: %+v", ctxs)
	}
	other := newEnv(t, func(c *server.Config) {
		c.Auth = auth.Config{BootstrapAdminPassword: "correct-horse-battery"}
	})
	r = e.cliIn("correct-horse-battery\n", "login", "-u", "admin", "--password-stdin", "--backend", other.backend)
	if r.code != 1 || !strings.Contains(r.err, "give --context for that backend") {
		t.Fatalf("login to another backend into context default: %+v", r)
	}
	e.ok("config", "set-context", "other", "--server", other.backend)
	e.vars["KANADE_BACKEND_URL"] = "" // the contexts say where
	if r := e.cliIn("correct-horse-battery\n", "login", "-u", "admin", "--password-stdin", "--context", "other"); r.code != 0 ||
		!strings.Contains(r.out, "logged in to "+other.backend) || !strings.Contains(r.out, "context other of") {
		t.Fatalf("login --context other: %+v", r)
	}
	// Each context sends its own token.
	e.jsonOK(&rows, "agents", "list")
	if r := e.cli("agents", "list", "--context", "other"); r.code != 1 || !strings.Contains(r.err, "password change required") {
		t.Fatalf("context other: %+v", r)
	}
}

// TestUsage: bad command lines exit 2 with one line saying what is wrong.
func TestUsage(t *testing.T) {
	e := &env{t: t, backend: "http://127.0.0.1:1", natsURL: "nats://127.0.0.1:1", cfgDir: t.TempDir(), vars: map[string]string{}}
	for _, args := range [][]string{
		{"bogus"}, {"agents", "list", "--nope"}, {"job", "delete"}, {"exec", "j1"}, {"exec", "j1", "--wave", "delay=5m"},
		{"exec", "j1", "--all", "--jitter", "soon"}, {"agents", "list", "-o", "xml"}, {"completion", "tcsh"},
		{"config", "set", "color=blue"}, {"config", "set", "max_local_concurrent=many"}, {"config", "get", "--group", "g", "--pc", "p"},
		{"freeze", "set", "--until", "tomorrow"}, {"agents", "lst"}, {"jetstream", "stat"},
	} {
		r := e.cli(args...)
		if r.code != 2 || !strings.HasPrefix(r.err, "kanade: ") {
			t.Errorf("kanade %s: exit %d, stderr %q; want 2", strings.Join(args, " "), r.code, r.err)
		}
	}
	// A typo in a subcommand is an error with a suggestion, not help with
	// exit status 0; the bare group still prints its help and succeeds.
	if r := e.cli("agents", "lst"); !strings.Contains(r.err, `unknown command "lst" for "kanade agents"; did you mean list?`) {
		t.Errorf("agents lst: %q", r.err)
	}
	if r := e.cli("bogus"); !strings.Contains(r.err, `unknown command "bogus"`) {
		t.Errorf("bogus: %q", r.err)
	}
	if out := e.ok("agents"); !strings.Contains(out, "Available Commands") {
		t.Errorf("agents alone: %q", out)
	}
	r := e.cli("agents", "list")
	if r.code != 1 || !strings.Contains(r.err, "http://127.0.0.1:1") || strings.Count(r.err, "\n") != 1 {
		t.Fatalf("unreachable backend: %+v", r)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := e.ok("completion", sh); !strings.Contains(out, "kanade") {
			t.Fatalf("completion %s: %q", sh, out)
		}
	}
}

// TestDocsCurrent fails when docs/cli.md is not what the command tree
// generates; fix with `go run ./cmd/kanade docs > docs/cli.md`.
func TestDocsCurrent(t *testing.T) {
	var buf bytes.Buffer
	if err := GenMarkdown(NewRoot(Options{Getenv: func(string) string { return "" }}), &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with `go run ./cmd/kanade docs > docs/cli.md`", err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Fatal("docs/cli.md is stale: regenerate it with `go run ./cmd/kanade docs > docs/cli.md`")
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"docs"}, Options{Out: &out, Err: &out, Getenv: func(string) string { return "" }}); code != 0 || !bytes.Equal(out.Bytes(), buf.Bytes()) {
		t.Fatalf("kanade docs: exit %d", code)
	}
}

var _ = jetstream.StreamConfig{}
