package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const unitFile = "../../deploy/kanade-backend.service"

// unitService reads the [Service] section of the systemd unit: key →
// values (a key may repeat).
func unitService(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", unitFile, line)
			}
			out[k] = append(out[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnitHardened keeps deploy/kanade-backend.service hardened (SPEC §17)
// and its ExecStart in step with the backend's flags: renaming a flag it
// uses fails here, not on an operator's server.
func TestUnitHardened(t *testing.T) {
	svc := unitService(t)
	want := map[string]string{
		"User": "kanade", "StateDirectory": "kanade", "ProtectSystem": "strict", "ProtectHome": "yes",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
		"Restart": "on-failure", "EnvironmentFile": "-/etc/kanade/backend.env",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "MemoryDenyWriteExecute": "yes",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if f := svc["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", f)
	}
	// No capability: the default ports are above 1024.
	if a := svc["AmbientCapabilities"]; len(a) != 1 || a[0] != "" {
		t.Errorf("AmbientCapabilities=%q, want empty", a)
	}
	o := newOptions("kanade-backend")
	for _, name := range []string{"http-addr", "nats-addr"} {
		addr := o.fs.Lookup(name).DefValue
		_, port, _ := strings.Cut(addr, ":")
		if p, err := strconv.Atoi(port); err != nil || p < 1024 {
			t.Errorf("--%s defaults to %s: the unit needs CAP_NET_BIND_SERVICE", name, addr)
		}
	}
	if n, err := strconv.Atoi(firstOf(svc["LimitNOFILE"])); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%q, want >= 65536 (one descriptor per agent connection)", svc["LimitNOFILE"])
	}
	exec := strings.Fields(firstOf(svc["ExecStart"]))
	if len(exec) < 2 || filepath.Base(exec[0]) != "kanade-backend" {
		t.Fatalf("ExecStart=%q", svc["ExecStart"])
	}
	for _, arg := range exec[1:] {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if o.fs.Lookup(name) == nil {
			t.Errorf("ExecStart uses --%s, which kanade-backend does not have", name)
		}
	}
	if !strings.Contains(firstOf(svc["ExecStart"]), "--config ") {
		t.Error("ExecStart does not name the config file")
	}
	// KANADE_* variables in the unit must be ones the backend reads.
	known := map[string]bool{}
	for _, v := range o.env {
		known[v] = true
	}
	for _, e := range svc["Environment"] {
		name, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, "KANADE_") && !known[name] {
			t.Errorf("Environment=%s: the backend reads no %s", e, name)
		}
	}
}

// TestUnitVerifies runs systemd-analyze verify on the backend's units
// when the machine has it (ExecStart pointed at a freshly built binary).
func TestUnitVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	bin := buildBackend(t)
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"kanade-backend.service", "kanade-backend-backup.service", "kanade-backend-backup.timer"} {
		raw, err := os.ReadFile(filepath.Join("../../deploy", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := filepath.Join(dir, name)
		if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/kanade-backend", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, unit)
	}
	if out, err := exec.Command("systemd-analyze", append([]string{"verify"}, units...)...).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
