package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// TestTypos: a typo is a usage error (exit 2) with a suggestion, for a
// top-level command, a group's subcommand and a leaf command's flag.
func TestTypos(t *testing.T) {
	e := &env{t: t, backend: "http://127.0.0.1:1", natsURL: "nats://127.0.0.1:1", cfgDir: t.TempDir(), vars: map[string]string{}}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verison"}, `kanade: unknown command "verison" for "kanade"; did you mean version?`},
		{[]string{"agents", "lst"}, `kanade: unknown command "lst" for "kanade agents"; did you mean list?`},
		{[]string{"agents", "list", "--stauts", "online"}, `kanade: unknown flag: --stauts; did you mean --status?`},
		{[]string{"executions", "list", "--jbo", "x"}, `kanade: unknown flag: --jbo; did you mean --job?`},
		{[]string{"agents", "list", "--zzzzzz"}, `kanade: unknown flag: --zzzzzz` + "\n"},
		{[]string{"config", "use-contxt", "a"}, `did you mean use-context?`},
	} {
		r := e.cli(c.args...)
		if r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("kanade %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), r.code, r.err, c.want)
		}
	}
}

// TestIDs: unique prefixes of exec, result, job and PC ids name them;
// ambiguous ones list the candidates; unknown ids exit 1 clearly; the
// ids complete from the backend (cobra's __complete).
func TestIDs(t *testing.T) {
	needSh(t)
	e := newEnv(t, nil)
	e.startAgent("pc-alpha")
	e.startAgent("pc-beta")
	for _, id := range []string{"abc-1111", "abc-2222", "xyz-3333"} {
		if r := e.cli("run", "pc-alpha", "--exec-id", id, "--", "echo "+id); r.code != 0 {
			t.Fatalf("run %s: %+v", id, r)
		}
	}
	testenv.Eventually(t, 20*time.Second, "results projected", func() bool {
		l, err := (&apiv1.Client{Base: e.backend}).ListResults(context.Background(), apiv1.ResultQuery{})
		return err == nil && len(l.Items) == 3
	})
	dir := writeFiles(t, map[string]string{"jobs.yaml": jobsYAML})
	e.ok("job", "apply", dir)

	var ex apiv1.ExecutionDetail
	e.jsonOK(&ex, "executions", "show", "xyz")
	if ex.ExecID != "xyz-3333" || len(ex.Results) != 1 {
		t.Fatalf("executions show xyz: %+v", ex)
	}
	if r := e.cli("executions", "show", "abc"); r.code != 1 ||
		r.err != "kanade: execution prefix abc is ambiguous: abc-1111, abc-2222; give more characters\n" {
		t.Fatalf("ambiguous: %+v", r)
	}
	if r := e.cli("executions", "show", "nope"); r.code != 1 || r.err != "kanade: no execution nope\n" {
		t.Fatalf("unknown: %+v", r)
	}
	// A full id that is also a prefix of nothing else, and one given whole.
	e.jsonOK(&ex, "executions", "show", "abc-2222")
	if ex.ExecID != "abc-2222" {
		t.Fatalf("executions show abc-2222: %+v", ex)
	}

	resultID := ex.Results[0].ResultID
	var res apiv1.Result
	e.jsonOK(&res, "results", "show", resultID[:18])
	if res.ResultID != resultID || res.Stdout == nil || *res.Stdout != "abc-2222\n" {
		t.Fatalf("results show %s: %+v", resultID[:18], res)
	}
	if r := e.cli("results", "show", "nope"); r.code != 1 || r.err != "kanade: no result nope\n" {
		t.Fatalf("unknown result: %+v", r)
	}
	if out := e.ok("results", "output", resultID[:18]); out != "abc-2222\n" {
		t.Fatalf("results output: %q", out)
	}

	var ag apiv1.Agent
	e.jsonOK(&ag, "agents", "show", "pc-a")
	if ag.PCID != "pc-alpha" {
		t.Fatalf("agents show pc-a: %+v", ag)
	}
	if r := e.cli("agents", "show", "pc-"); r.code != 1 || !strings.Contains(r.err, "agent prefix pc- is ambiguous: pc-alpha, pc-beta") {
		t.Fatalf("ambiguous agent: %+v", r)
	}
	if r := e.cli("agents", "show", "zz"); r.code != 1 || r.err != "kanade: no agent zz\n" {
		t.Fatalf("unknown agent: %+v", r)
	}

	var job apiv1.Job
	e.jsonOK(&job, "job", "show", "pic")
	if job.ID != "picky" {
		t.Fatalf("job show pic: %+v", job)
	}
	if r := e.cli("job", "show", "nothing"); r.code != 1 || r.err != "kanade: no job nothing\n" {
		t.Fatalf("unknown job: %+v", r)
	}

	// kill: an unknown id is not a success; a prefix is completed first.
	if r := e.cli("kill", "nope"); r.code != 1 || r.err != "kanade: no execution nope\n" {
		t.Fatalf("kill nope: %+v", r)
	}
	if out := e.ok("kill", "xyz"); !strings.Contains(out, "kill sent for execution xyz-3333") {
		t.Fatalf("kill xyz: %q", out)
	}
	if r := e.cli("kill", "abc"); r.code != 1 || !strings.Contains(r.err, "is ambiguous: abc-1111, abc-2222") {
		t.Fatalf("kill abc: %+v", r)
	}

	// Completion from the backend.
	complete := func(want []string, args ...string) {
		t.Helper()
		out := e.ok(append([]string{"__complete"}, args...)...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("__complete %s: no %q in\n%s", strings.Join(args, " "), w, out)
			}
		}
		if !strings.Contains(out, ":4\n") { // ShellCompDirectiveNoFileComp
			t.Errorf("__complete %s: want no file completion:\n%s", strings.Join(args, " "), out)
		}
	}
	complete([]string{"abc-1111\t", "abc-2222\t", "xyz-3333\t"}, "executions", "show", "")
	complete([]string{"xyz-3333\t"}, "kill", "x")
	complete([]string{"pc-alpha\t", "pc-beta\t"}, "agents", "show", "pc-")
	complete([]string{"pc-alpha"}, "run", "pc-a")
	complete([]string{"hello\n", "picky\n"}, "exec", "")
	complete([]string{"hello\n", "picky\n"}, "job", "show", "")
	complete([]string{resultID + "\t"}, "results", "show", resultID[:6])
	complete([]string{"pc-beta\t"}, "results", "list", "--pc", "pc-b")
	complete([]string{"picky\n"}, "executions", "list", "--job", "p")
	complete([]string{"pc-alpha\t"}, "exec", "hello", "--pc", "pc-al")
	if out := e.ok("__complete", "executions", "show", "xyz", ""); strings.Contains(out, "abc") {
		t.Errorf("second argument completed: %q", out)
	}
	// A backend that does not answer completes nothing, silently.
	e.vars["KANADE_BACKEND_URL"] = "http://127.0.0.1:1"
	if r := e.cli("__complete", "executions", "show", ""); r.code != 0 || r.out != ":4\n" {
		t.Errorf("__complete without a backend: %+v", r)
	}
	e.vars["KANADE_BACKEND_URL"] = e.backend

	// -o yaml parses back to what -o json says.
	for _, args := range [][]string{{"executions", "list"}, {"executions", "show", "xyz"}, {"agents", "list"},
		{"agents", "show", "pc-alpha"}, {"results", "list"}, {"job", "list"}, {"job", "show", "hello"}} {
		sameYAMLJSON(t, e, args...)
	}
}

// sameYAMLJSON checks that `args -o yaml` decodes to the value of
// `args -o json`.
func sameYAMLJSON(t *testing.T, e *env, args ...string) {
	t.Helper()
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(e.ok(append(args, "-o", "json")...)), &fromJSON); err != nil {
		t.Fatalf("%v -o json: %v", args, err)
	}
	y := e.ok(append(args, "-o", "yaml")...)
	if err := yaml.Unmarshal([]byte(y), &fromYAML); err != nil {
		t.Fatalf("%v -o yaml does not parse: %v\n%s", args, err, y)
	}
	// Through JSON once more, so numbers compare as float64 on both sides.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML = nil
	if err := json.Unmarshal(b, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("%v: -o yaml and -o json differ:\njson %v\nyaml %v", args, fromJSON, fromYAML)
	}
}

// TestContexts: contexts in config.toml switch backends; --context and
// KANADE_CONTEXT override the current one; flags and env override the
// context; an old token file moves into context "default".
func TestContexts(t *testing.T) {
	a := newEnv(t, nil)
	b := newEnv(t, nil)
	e := a                            // one CLI (config dir), two backends
	e.vars["KANADE_BACKEND_URL"] = "" // no env: the context decides
	dir := writeFiles(t, map[string]string{"jobs.yaml": jobsYAML})
	b.ok("job", "apply", dir) // only b has jobs

	jobs := func(args ...string) int {
		t.Helper()
		var l []apiv1.Job
		e.jsonOK(&l, append([]string{"job", "list"}, args...)...)
		return len(l)
	}
	if out := e.ok("config", "set-context", "a", "--server", a.backend, "--nats-url", a.natsURL); !strings.Contains(out, "context a created") {
		t.Fatalf("set-context a: %q", out)
	}
	e.ok("config", "set-context", "b", "--server", b.backend+"/", "--token", "tok-b")
	if out := e.ok("config", "current-context"); out != "a\n" { // the first one
		t.Fatalf("current-context: %q", out)
	}
	if n := jobs(); n != 0 {
		t.Fatalf("context a lists %d jobs", n)
	}
	if out := e.ok("config", "use-context", "b"); out != "switched to context b\n" {
		t.Fatalf("use-context: %q", out)
	}
	if n := jobs(); n != 2 {
		t.Fatalf("context b lists %d jobs", n)
	}
	if n := jobs("--context", "a"); n != 0 {
		t.Fatalf("--context a lists %d jobs", n)
	}
	e.vars["KANADE_CONTEXT"] = "a"
	if n := jobs(); n != 0 {
		t.Fatalf("KANADE_CONTEXT=a lists %d jobs", n)
	}
	if n := jobs("--context", "b"); n != 2 { // the flag beats the env
		t.Fatalf("--context b over KANADE_CONTEXT=a lists %d jobs", n)
	}
	delete(e.vars, "KANADE_CONTEXT")
	e.vars["KANADE_BACKEND_URL"] = a.backend // env beats the context
	if n := jobs(); n != 0 {
		t.Fatalf("KANADE_BACKEND_URL over context b lists %d jobs", n)
	}
	if n := jobs("--backend", b.backend); n != 2 { // and the flag the env
		t.Fatalf("--backend b lists %d jobs", n)
	}
	e.vars["KANADE_BACKEND_URL"] = ""

	var rows []contextRow
	e.jsonOK(&rows, "config", "get-contexts")
	want := []contextRow{{Name: "a", Server: a.backend, NATSURL: a.natsURL}, {Name: "b", Current: true, Server: b.backend, HasToken: true}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("get-contexts: %+v, want %+v", rows, want)
	}
	if out := e.ok("config", "get-contexts"); strings.Contains(out, "tok-b") || !strings.Contains(out, "stored") {
		t.Fatalf("get-contexts prints the token or not its presence:\n%s", out)
	}
	sameYAMLJSON(t, e, "config", "get-contexts")
	path := filepath.Join(e.cfgDir, "config.toml")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.toml mode %v", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `current-context = "b"`) || !strings.Contains(string(raw), "[contexts.b]") {
		t.Fatalf("config.toml:\n%s", raw)
	}

	// Unknown names.
	if r := e.cli("config", "use-context", "c"); r.code != 1 || !strings.Contains(r.err, `no context "c"`) {
		t.Fatalf("use-context c: %+v", r)
	}
	if r := e.cli("job", "list", "--context", "c"); r.code != 2 || !strings.Contains(r.err, "known: a, b") {
		t.Fatalf("--context c: %+v", r)
	}
	if out := e.ok("__complete", "config", "use-context", ""); !strings.Contains(out, "a\nb\n") {
		t.Fatalf("complete contexts: %q", out)
	}
	if out := e.ok("config", "delete-context", "b"); !strings.Contains(out, "no current context now") {
		t.Fatalf("delete-context b: %q", out)
	}
	if r := e.cli("config", "current-context"); r.code != 1 {
		t.Fatalf("current-context after delete: %+v", r)
	}

	// A token stored by an older CLI moves into context "default".
	old := &env{t: t, backend: a.backend, cfgDir: t.TempDir(), vars: map[string]string{}}
	if err := os.WriteFile(filepath.Join(old.cfgDir, "token"), []byte("legacy-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old.jsonOK(&rows, "config", "get-contexts")
	if len(rows) != 1 || rows[0].Name != "default" || !rows[0].Current || !rows[0].HasToken {
		t.Fatalf("migrated: %+v", rows)
	}
	if got := old.authTokenForTest(); got != "legacy-token" {
		t.Fatalf("migrated token %q", got)
	}
	if _, err := os.Stat(filepath.Join(old.cfgDir, "token")); !os.IsNotExist(err) {
		t.Fatalf("old token file left: %v", err)
	}

	// A broken file is reported, not ignored.
	if err := os.WriteFile(path, []byte("current-context = \"a\"\n[contexts.a]\nservr = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.cli("job", "list"); r.code != 1 || !strings.Contains(r.err, "unknown key contexts.a.servr") {
		t.Fatalf("broken config: %+v", r)
	}
}

func TestDefaultConfigDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("XDG applies to Unix")
	}
	d, err := defaultConfigDir(func(k string) string { return map[string]string{"XDG_CONFIG_HOME": "/x/cfg"}[k] })
	if err != nil || d != "/x/cfg/kanade" {
		t.Fatalf("XDG: %q %v", d, err)
	}
	home, _ := os.UserHomeDir()
	if d, _ := defaultConfigDir(func(string) string { return "" }); d != filepath.Join(home, ".config", "kanade") {
		t.Fatalf("default: %q", d)
	}
}
