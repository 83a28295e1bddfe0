//go:build !windows

package install_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// buildAgent builds the real kanade-agent with version v.
func buildAgent(t *testing.T, v string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "kanade-agent")
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X github.com/kanade-fleet/kanade/internal/version.Version="+v, "./cmd/kanade-agent")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build kanade-agent: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLinuxInstallerEndToEnd runs the Linux install script as an operator
// would, against a live backend with a real enrollment token, into a
// temporary root (no root, no systemd): it leaves the real agent binary,
// a systemd unit and an enrolled data dir; the unit's command runs an
// agent that answers a run through the API; --uninstall removes it. Then
// the refusals: a used-up or expired token, a hostile token, a bad os, a
// release that is not a valid signed one.
func TestLinuxInstallerEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if _, err := exec.LookPath("wget"); err != nil {
			t.Fatal("the installer needs curl or wget; neither is installed")
		}
	}
	arch := goarch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const version = "9.8.7-install"
	bin := buildAgent(t, version)

	b := testenv.Backend(t, func(c *server.Config) { c.NATSIdentity = true })
	sum := sha256.Sum256(bin)
	st := release.Statement{Version: version, OS: "linux", Arch: arch, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(bin))}
	if _, err := b.KV.Releases.Put(ctx, st, release.Sign(b.Signer, st), bytes.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	c := &apiv1.Client{Base: b.HTTPURL()}
	tok, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{Groups: []string{"installed"}})
	if err != nil {
		t.Fatal(err)
	}

	// The download is authorised by the token and does not consume it.
	dl, err := c.DownloadRelease(ctx, version, "linux-"+arch, apiv1.ReleaseDownloadQuery{Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dl.Body)
	dl.Body.Close()
	if err != nil || !bytes.Equal(got, bin) || dl.SHA256 != st.SHA256 || dl.Size != st.Size || dl.KeyID != b.Signer.KeyID() || dl.Signature == "" {
		t.Fatalf("download: %d bytes, %+v, %v", len(got), dl, err)
	}

	script, err := c.InstallScript(ctx, "linux", apiv1.InstallQuery{Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "KANADE_VERSION='"+version+"'") || !strings.Contains(script, "KANADE_SERVER='"+b.HTTPURL()+"'") {
		t.Fatalf("script does not install %s from %s:\n%.600s", version, b.HTTPURL(), script)
	}
	if ls, err := c.ListEnrollmentTokens(ctx, apiv1.Page{}); err != nil || ls.Items[0].UsesLeft != 1 {
		t.Fatalf("the script fetch or the download consumed the token: %+v %v", ls, err)
	}

	root := t.TempDir()
	file := filepath.Join(t.TempDir(), "install.sh")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "sh", append([]string{file}, args...)...)
		cmd.Env = []string{"KANADE_INSTALL_ROOT=" + root, "KANADE_NO_SERVICE=1", "KANADE_PC_ID=installed-pc",
			"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(), "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh install.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run()
	t.Logf("install:\n%s", out)
	binPath, data := filepath.Join(root, "usr/local/bin/kanade-agent"), filepath.Join(root, "var/lib/kanade")
	unitPath := filepath.Join(root, "etc/systemd/system/kanade-agent.service")
	if installed, err := os.ReadFile(binPath); err != nil || !bytes.Equal(installed, bin) {
		t.Fatalf("installed binary: %d bytes, %v", len(installed), err)
	}
	for _, f := range []string{"broker.creds", "enrollment.json"} {
		if st, err := os.Stat(filepath.Join(data, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s after install: %v %v", f, st, err)
		}
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ExecStart="); ok {
			execStart = strings.Fields(v)
		}
	}
	if len(execStart) == 0 || execStart[0] != binPath || !strings.Contains(string(unit), "Restart=always") {
		t.Fatalf("unit:\n%s", unit)
	}
	if ls, err := c.ListEnrollmentTokens(ctx, apiv1.Page{}); err != nil || ls.Items[0].UsesLeft != 0 {
		t.Fatalf("the enrollment did not use the token: %+v %v", ls, err)
	}

	// Start the agent as systemd would, with the unit's command.
	agent := exec.Command(execStart[0], execStart[1:]...)
	var logs syncBuffer
	agent.Stdout, agent.Stderr = &logs, &logs
	agent.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = agent.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = agent.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = agent.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	testenv.Eventually(t, 30*time.Second, "the installed agent online", func() bool {
		a, err := c.GetAgent(ctx, "installed-pc")
		return err == nil && a.Online && a.AgentVersion == version
	})
	if g, err := c.GetAgentGroups(ctx, "installed-pc"); err != nil || len(g.Groups) != 1 || g.Groups[0] != "installed" {
		t.Errorf("the token's groups: %+v %v", g, err)
	}
	res, err := c.Run(ctx, apiv1.RunRequest{PCID: "installed-pc", Shell: "sh", Script: "echo installed-ok", TimeoutSecs: 30})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "installed-ok" {
		t.Fatalf("run on the installed agent: %+v %v\nagent log:\n%s", res, err, logs.String())
	}
	stop()

	// The used-up token fetches nothing more, and reveals nothing.
	assertRefused(t, c, tok.Token, version, arch)
	expired, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{ExpiresIn: "1ns"})
	if err != nil {
		t.Fatal(err)
	}
	assertRefused(t, c, expired.Token, version, arch)
	assertRefused(t, c, "kanade-enroll-x';touch${IFS}/tmp/pwned;'", version, arch)

	// Hostile paths and objects, with a usable token.
	fresh, err := c.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/install/..%2Fx", "/api/install/plan9", "/api/install/%27"} {
		r := get(t, b.HTTPURL()+p+"?token="+fresh.Token)
		if r.status != http.StatusNotFound || !strings.Contains(r.body, `"field":"os"`) {
			t.Errorf("GET %s: %d %s, want 404 naming os", p, r.status, r.body)
		}
	}
	if _, err := c.InstallScript(ctx, "darwin", apiv1.InstallQuery{Token: fresh.Token}); apiv1.StatusOf(err) != http.StatusConflict {
		t.Errorf("installer for an os without a release: %v, want 409", err)
	}
	unsigned := release.Statement{Version: "6.6.6", OS: "linux", Arch: arch, SHA256: st.SHA256, Size: st.Size}
	if _, err := b.KV.Releases.Put(ctx, unsigned, nil, bytes.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	obj, err := b.JS.ObjectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: release.ObjectName("6.6.7", "linux", arch)}, strings.NewReader("hand-made")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"6.6.6", "6.6.7"} {
		_, err := c.DownloadRelease(ctx, v, "linux-"+arch, apiv1.ReleaseDownloadQuery{Token: fresh.Token})
		if apiv1.StatusOf(err) != http.StatusConflict {
			t.Errorf("download of the invalid release %s: %v, want 409", v, err)
		}
	}
	// The installer offers only what the download serves: the newest
	// servable upload, or the global target_version when it has one.
	if s, err := c.InstallScript(ctx, "linux", apiv1.InstallQuery{Token: fresh.Token}); err != nil || !strings.Contains(s, "KANADE_VERSION='"+version+"'") {
		t.Errorf("installer past invalid uploads: %v\n%.300s", err, s)
	}
	for target, want := range map[string]int{"6.6.6": http.StatusConflict, "1.0.0-none": http.StatusConflict, version: 0} {
		if _, err := c.PatchConfig(ctx, apiv1.Scope{}, apiv1.ConfigPatch{"target_version": target}); err != nil {
			t.Fatal(err)
		}
		s, err := c.InstallScript(ctx, "linux", apiv1.InstallQuery{Token: fresh.Token})
		if apiv1.StatusOf(err) != want || (want == 0 && !strings.Contains(s, "KANADE_VERSION='"+version+"'")) {
			t.Errorf("installer with target_version %s: %v, want status %d\n%.300s", target, err, want, s)
		}
	}

	// --uninstall removes the binary and the unit and keeps the data dir.
	run("--uninstall")
	for _, f := range []string{binPath, unitPath} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s after --uninstall: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "broker.creds")); err != nil {
		t.Errorf("--uninstall removed the data dir: %v", err)
	}
	run("--uninstall", "--purge")
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data dir after --purge: %v", err)
	}
}

// assertRefused: token fetches neither the script nor a release (one that
// exists or not: the same 401), and nothing ran.
func assertRefused(t *testing.T, c *apiv1.Client, token, version, arch string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.InstallScript(ctx, "linux", apiv1.InstallQuery{Token: token}); apiv1.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("script with token %q: %v, want 401", token, err)
	}
	var msgs []string
	for _, v := range []string{version, "0.0.0-none"} {
		_, err := c.DownloadRelease(ctx, v, "linux-"+arch, apiv1.ReleaseDownloadQuery{Token: token})
		if apiv1.StatusOf(err) != http.StatusUnauthorized {
			t.Errorf("download of %s with token %q: %v, want 401", v, token, err)
		}
		if err != nil {
			msgs = append(msgs, err.Error()[strings.Index(err.Error(), ":"):])
		}
	}
	if len(msgs) == 2 && strings.ReplaceAll(msgs[0], version, "V") != strings.ReplaceAll(msgs[1], "0.0.0-none", "V") {
		t.Errorf("the refusal differs for an existing release: %q vs %q", msgs[0], msgs[1])
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("a hostile token ran a command")
	}
}

type reply struct {
	status int
	body   string
}

func get(t *testing.T, url string) reply {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, string(b)}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
