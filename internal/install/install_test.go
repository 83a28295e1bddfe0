package install_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/install"
)

const goodToken = "kanade-enroll-AbC_d-9"

func params(goos string) install.Params {
	return install.Params{OS: goos, Server: "https://kanade.example:8443", Token: goodToken, Version: "1.2.3", Arches: []string{"amd64", "arm64"}}
}

// Hostile values are refused before anything is rendered.
func TestValidate(t *testing.T) {
	t.Parallel()
	bad := map[string]func(*install.Params){
		"os ../x":            func(p *install.Params) { p.OS = "../x" },
		"os plan9":           func(p *install.Params) { p.OS = "plan9" },
		"token quote":        func(p *install.Params) { p.Token = "kanade-enroll-x'; rm -rf / #" },
		"token subst":        func(p *install.Params) { p.Token = "$(id)" },
		"token backtick":     func(p *install.Params) { p.Token = "`id`" },
		"token space":        func(p *install.Params) { p.Token = "a b" },
		"token newline":      func(p *install.Params) { p.Token = "a\nb" },
		"token empty":        func(p *install.Params) { p.Token = "" },
		"token long":         func(p *install.Params) { p.Token = strings.Repeat("a", 129) },
		"version slash":      func(p *install.Params) { p.Version = "1/2" },
		"version quote":      func(p *install.Params) { p.Version = "1'2" },
		"server path":        func(p *install.Params) { p.Server = "https://h/x" },
		"server scheme":      func(p *install.Params) { p.Server = "ftp://h" },
		"server user":        func(p *install.Params) { p.Server = "https://u:p@h" },
		"server query":       func(p *install.Params) { p.Server = "https://h?x=1" },
		"server quote":       func(p *install.Params) { p.Server = "https://h'x" },
		"server dollar":      func(p *install.Params) { p.Server = "https://$(id)" },
		"no arches":          func(p *install.Params) { p.Arches = nil },
		"arch 386":           func(p *install.Params) { p.Arches = []string{"386"} },
		"server no host":     func(p *install.Params) { p.Server = "https://" },
		"server trailing ?":  func(p *install.Params) { p.Server = "https://h?" },
		"server relative":    func(p *install.Params) { p.Server = "/api" },
		"server with spaces": func(p *install.Params) { p.Server = "https://h h" },
	}
	for name, mutate := range bad {
		p := params("linux")
		mutate(&p)
		if s, err := install.Script(p); !errors.Is(err, install.ErrInvalid) || s != nil {
			t.Errorf("%s: %v (script %d bytes)", name, err, len(s))
		}
	}
	for _, s := range []string{"http://127.0.0.1:8080", "https://kanade.example", "http://[::1]:80", "https://a-b.c.example:1"} {
		p := params("darwin")
		p.Server = s
		if _, err := install.Script(p); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

// A quoted value is one word with exactly its bytes, whatever it holds.
func TestShellQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "it's", "'", "''", `a"b`, "$(id) `id` $HOME \\ \n;|&*?[]", "x'\"'\"'y"} {
		out, err := exec.Command("sh", "-c", "printf %s "+install.ShellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("%q: got %q %v", s, out, err)
		}
	}
	if got := install.PowerShellQuote("a'b\u2019c"); got != "'a''b\u2019\u2019c'" {
		t.Errorf("PowerShellQuote: %s", got)
	}
}

// Every script renders, the sh ones parse with sh -n, and the values are
// in them quoted.
func TestScriptsRender(t *testing.T) {
	t.Parallel()
	for _, goos := range []string{"linux", "darwin", "windows"} {
		s, err := install.Script(params(goos))
		if err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		text := string(s)
		switch goos {
		case "windows":
			for _, want := range []string{"$KanadeToken = '" + goodToken + "'", "$KanadeArches = @('amd64', 'arm64')",
				"Get-FileHash -Algorithm SHA256", "X-Kanade-Sha256", "@('install', '--data-dir', $DataDir)", "enroll"} {
				if !strings.Contains(text, want) {
					t.Errorf("windows script lacks %q", want)
				}
			}
			if strings.Contains(strings.ToLower(text), "netsh") || strings.Contains(text, "New-NetFirewallRule") {
				t.Error("the windows script touches the firewall")
			}
			if strings.Contains(text, "exit") && strings.Contains(text, "\texit ") {
				t.Error("the windows script exits (it would close the window of iex)")
			}
		default:
			if !strings.HasPrefix(text, "#!/bin/sh\n") || !strings.Contains(text, "KANADE_TOKEN='"+goodToken+"'") {
				t.Errorf("%s script header/token:\n%.400s", goos, text)
			}
			for _, shell := range []string{"sh", "bash"} {
				if _, err := exec.LookPath(shell); err != nil {
					continue
				}
				cmd := exec.Command(shell, "-n")
				cmd.Stdin = strings.NewReader(text)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s -n of the %s script: %v\n%s", shell, goos, err, out)
				}
			}
		}
	}
}

// fakeAgent is a stand-in "binary": it answers --version and records
// what enroll was given (argv, and the token from the environment).
const fakeAgent = `#!/bin/sh
case "$1" in
--version) echo fake-9.9 ;;
enroll)
	shift
	args="$*"
	while [ $# -gt 0 ]; do
		case "$1" in --data-dir) dd=$2; shift ;; esac
		shift
	done
	printf '%s\n' "$args" >"$dd/enroll-args"
	printf '%s\n' "$KANADE_ENROLL_TOKEN" >"$dd/enrollment.json"
	;;
*) exit 3 ;;
esac
`

func goarch(t *testing.T) string {
	switch runtime.GOARCH {
	case "amd64", "arm64":
		return runtime.GOARCH
	}
	t.Skipf("no release arch for %s", runtime.GOARCH)
	return ""
}

// releaseServer serves fakeAgent as every release, with the given digest
// header (the right one when sum is "").
func releaseServer(t *testing.T, sum string) *httptest.Server {
	h := sha256.Sum256([]byte(fakeAgent))
	if sum == "" {
		sum = hex.EncodeToString(h[:])
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != goodToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"unknown enrollment token","field":"token"}`)
			return
		}
		w.Header().Set("X-Kanade-Sha256", strings.ToUpper(sum))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, fakeAgent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type runResult struct {
	out  string
	err  error
	root string
}

func runScript(t *testing.T, p install.Params, root, path string, args ...string) runResult {
	t.Helper()
	s, err := install.Script(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "install.sh")
	if err := os.WriteFile(file, s, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{file}, args...)...)
	cmd.Env = []string{"KANADE_INSTALL_ROOT=" + root, "KANADE_NO_SERVICE=1", "PATH=" + path, "TMPDIR=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return runResult{string(out), err, root}
}

// onlyWget is a PATH like the real one without curl.
func onlyWget(t *testing.T) string {
	if _, err := exec.LookPath("wget"); err != nil {
		t.Skip("wget not installed")
	}
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() == "curl" {
				continue
			}
			_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())) // the first of a name wins
		}
	}
	return dir
}

// The sh script's own logic against a stand-in server and binary, with
// curl and with wget: download, digest check, install, enroll (token in
// the environment, never in argv), uninstall; and its refusals.
func TestUnixScriptLogic(t *testing.T) {
	t.Parallel()
	arch := goarch(t)
	good := releaseServer(t, "")
	for _, goos := range []string{"linux", "darwin"} {
		for _, tool := range []string{"curl", "wget"} {
			t.Run(goos+"-"+tool, func(t *testing.T) {
				t.Parallel()
				path := os.Getenv("PATH")
				if tool == "wget" {
					path = onlyWget(t)
				} else if _, err := exec.LookPath("curl"); err != nil {
					t.Skip("curl not installed")
				}
				p := params(goos)
				p.Server = good.URL
				root := t.TempDir()
				bin := filepath.Join(root, "usr/local/bin/kanade-agent")
				data, unit := filepath.Join(root, "var/lib/kanade"), filepath.Join(root, "etc/systemd/system/kanade-agent.service")
				if goos == "darwin" {
					data, unit = filepath.Join(root, "Library/Application Support/Kanade/data"), filepath.Join(root, "Library/LaunchDaemons/com.kanade.agent.plist")
				}
				r := runScript(t, p, root, path)
				if r.err != nil {
					t.Fatalf("install: %v\n%s", r.err, r.out)
				}
				if st, err := os.Stat(bin); err != nil || st.Mode().Perm() != 0o755 {
					t.Fatalf("binary: %v %v\n%s", st, err, r.out)
				}
				if tok, _ := os.ReadFile(filepath.Join(data, "enrollment.json")); strings.TrimSpace(string(tok)) != goodToken {
					t.Errorf("enroll got token %q from the environment", tok)
				}
				args, _ := os.ReadFile(filepath.Join(data, "enroll-args"))
				if want := "--server " + good.URL + " --data-dir " + data; strings.TrimSpace(string(args)) != want || strings.Contains(string(args), goodToken) {
					t.Errorf("enroll argv %q, want %q", args, want)
				}
				u, err := os.ReadFile(unit)
				if err != nil || !strings.Contains(string(u), bin) || !strings.Contains(string(u), data) {
					t.Errorf("unit %s: %v\n%s", unit, err, u)
				}
				if strings.Contains(r.out, goodToken) || strings.Contains(string(u), goodToken) {
					t.Errorf("the token was printed or written to the unit:\n%s", r.out)
				}
				if st, _ := os.Stat(data); st == nil || st.Mode().Perm() != 0o700 {
					t.Errorf("data dir mode %v", st)
				}
				// A second run keeps the enrollment.
				if r := runScript(t, p, root, path); r.err != nil || !strings.Contains(r.out, "already enrolled") {
					t.Errorf("reinstall: %v\n%s", r.err, r.out)
				}
				if r := runScript(t, p, root, path, "--uninstall"); r.err != nil {
					t.Fatalf("uninstall: %v\n%s", r.err, r.out)
				}
				for _, f := range []string{bin, unit} {
					if _, err := os.Stat(f); !os.IsNotExist(err) {
						t.Errorf("%s left after --uninstall: %v", f, err)
					}
				}
				if _, err := os.Stat(filepath.Join(data, "enrollment.json")); err != nil {
					t.Errorf("--uninstall removed the data dir: %v", err)
				}
				if r := runScript(t, p, root, path, "--uninstall", "--purge"); r.err != nil {
					t.Fatalf("purge: %v\n%s", r.err, r.out)
				}
				if _, err := os.Stat(data); !os.IsNotExist(err) {
					t.Errorf("--purge kept the data dir: %v", err)
				}

				// Refusals: a wrong digest, a bad token, an arch without a
				// release. Each says why and installs nothing.
				bad := releaseServer(t, strings.Repeat("ab", 32))
				p2 := p
				p2.Server = bad.URL
				for name, c := range map[string]struct {
					p    install.Params
					want string
				}{
					"digest": {p2, "SHA-256 mismatch"},
					"token":  {func() install.Params { q := p; q.Token = "kanade-enroll-wrong"; return q }(), "HTTP 401"},
					"arch":   {func() install.Params { q := p; q.Arches = []string{other(arch)}; return q }(), "has no " + goos + "-" + arch + " binary"},
				} {
					root := t.TempDir()
					r := runScript(t, c.p, root, path)
					if r.err == nil || !strings.Contains(r.out, c.want) {
						t.Errorf("%s: %v, want an error saying %q\n%s", name, r.err, c.want, r.out)
					}
					if _, err := os.Stat(filepath.Join(root, "usr/local/bin/kanade-agent")); !os.IsNotExist(err) {
						t.Errorf("%s: a binary was installed", name)
					}
					if name == "token" && !strings.Contains(r.out, "unknown enrollment token") && tool == "curl" {
						t.Errorf("the server's reason is not shown:\n%s", r.out)
					}
				}
			})
		}
	}
	if r := runScript(t, params("linux"), "relative/dir", os.Getenv("PATH")); r.err == nil || !strings.Contains(r.out, "absolute") {
		t.Errorf("relative root: %v %s", r.err, r.out)
	}
	if r := runScript(t, params("linux"), "/tmp/a b", os.Getenv("PATH")); r.err == nil || !strings.Contains(r.out, "may hold only") {
		t.Errorf("root with a space: %v %s", r.err, r.out)
	}
}

func other(a string) string {
	if a == "amd64" {
		return "arm64"
	}
	return "amd64"
}
