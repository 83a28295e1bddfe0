package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodYAML = `# cleanup job
id: cleanup-temp            # [A-Za-z0-9_-]{1,64}
version: 1.0.1
description: Remove temp files
tags: [hygiene]
execute:
  shell: powershell
  script: |
    Remove-Item "$env:TEMP\*" -Recurse -Force -ErrorAction SilentlyContinue
  timeout: 600s
  cwd: C:\Temp
  run_as: system
`

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	return fe.Field
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "cleanup-temp" || m.Version != "1.0.1" || m.Execute.Shell != "powershell" ||
		m.Execute.Cwd != `C:\Temp` || m.Execute.RunAs != "system" || len(m.Tags) != 1 {
		t.Fatalf("bad manifest %+v", m)
	}
	if !strings.Contains(m.Execute.Script, `$env:TEMP\*`) || !strings.HasSuffix(m.Execute.Script, "\n") {
		t.Fatalf("script %q", m.Execute.Script)
	}
	if m.Timeout() != 600*time.Second || m.TimeoutSecs() != 600 {
		t.Fatalf("timeout %v %d", m.Timeout(), m.TimeoutSecs())
	}
	// JSON round trip: what goes in KV jobs parses back to the same value.
	back, err := Parse(m.JSON())
	if err != nil {
		t.Fatalf("reparse %s: %v", m.JSON(), err)
	}
	if string(back.JSON()) != string(m.JSON()) {
		t.Fatalf("round trip\n%s\n%s", m.JSON(), back.JSON())
	}
	var generic map[string]any
	if err := json.Unmarshal(m.JSON(), &generic); err != nil || generic["execute"].(map[string]any)["timeout"] != "600s" {
		t.Fatalf("json %s", m.JSON())
	}
}

func TestParseAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		check     func(Manifest) bool
	}{
		{"json", `{"id":"a","version":"1","execute":{"shell":"sh","script":"true","timeout":"30s"}}`,
			func(m Manifest) bool { return m.Execute.RunAs == "system" && m.Timeout() == 30*time.Second }},
		{"numeric version keeps text", "id: a\nversion: 1.10\nexecute: {shell: sh, script: x, timeout: 1m}\n",
			func(m Manifest) bool { return m.Version == "1.10" }},
		{"integer version", "id: a\nversion: 3\nexecute: {shell: sh, script: x, timeout: 1m}\n",
			func(m Manifest) bool { return m.Version == "3" }},
		{"json numeric version", `{"id":"a","version":2.0,"execute":{"shell":"sh","script":"x","timeout":"1m"}}`,
			func(m Manifest) bool { return m.Version == "2.0" }},
		{"days", "id: a\nversion: v\nexecute: {shell: bash, script: x, timeout: 2d12h}\n",
			func(m Manifest) bool { return m.Timeout() == 60*time.Hour }},
		{"1h30m user", "id: A_b-9\nversion: v\nexecute: {shell: cmd, script: x, timeout: 1h30m, run_as: user}\n",
			func(m Manifest) bool { return m.Timeout() == 90*time.Minute && m.Execute.RunAs == "user" }},
		{"fraction rounds secs up", "id: a\nversion: v\nexecute: {shell: pwsh, script: x, timeout: 1.5s}\n",
			func(m Manifest) bool { return m.TimeoutSecs() == 2 }},
		{"null optional", "id: a\nversion: v\ndescription:\ntags: ~\nexecute: {shell: sh, script: x, timeout: 1d}\n",
			func(m Manifest) bool { return m.Description == "" && m.Tags == nil }},
		{"anchors", "id: a\nversion: v\ntags: [&t x, *t]\nexecute: {shell: sh, script: x, timeout: 1d}\n",
			func(m Manifest) bool { return len(m.Tags) == 2 && m.Tags[1] == "x" }},
		{"bom", "\ufeffid: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 1d}\n",
			func(m Manifest) bool { return m.ID == "a" }},
		{"yaml flow at top", "{id: a, version: v, execute: {shell: sh, script: x, timeout: 5m}}",
			func(m Manifest) bool { return m.ID == "a" }},
		{"explicit document", "---\nid: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 5m}\n...\n",
			func(m Manifest) bool { return m.ID == "a" }},
		{"id 64", "id: " + strings.Repeat("x", 64) + "\nversion: v\nexecute: {shell: sh, script: x, timeout: 5m}\n",
			func(m Manifest) bool { return len(m.ID) == 64 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(m) {
				t.Fatalf("unexpected %+v", m)
			}
		})
	}
}

func TestParseRejected(t *testing.T) {
	base := func(mut string) string {
		return "id: job1\nversion: '1'\nexecute:\n  shell: sh\n  script: echo hi\n  timeout: 30s\n" + mut
	}
	cases := []struct {
		name, doc, field, msg string
	}{
		{"malformed yaml", "id: [a\nversion: 1\n", "", "malformed YAML"},
		{"malformed yaml tab", "id: a\n\tversion: 1\n", "", "malformed YAML"},
		{"malformed json", `{"id": "a"`, "", "malformed"},
		{"json trailing", `{"id":"a","version":"1","execute":{"shell":"sh","script":"x","timeout":"1s"}} {}`, "", "trailing"},
		{"empty", "", "", "empty"},
		{"only comments", "# nothing\n", "", "empty"},
		{"two docs", goodYAML + "---\n" + goodYAML, "", "2 YAML documents"},
		{"not a mapping", "- a\n- b\n", "", "must be a mapping"},
		{"scalar doc", "hello\n", "", "must be a mapping"},
		{"unknown top", base("target: {all: true}\n"), "target", "unknown field"},
		{"unknown nested", "id: a\nversion: v\nexecute:\n  shell: sh\n  script: x\n  timout: 30s\n", "execute.timout", "unknown field"},
		{"unknown json", `{"id":"a","version":"1","execute":{"shell":"sh","script":"x","timeout":"1s","tiemout":"1"}}`, "execute.tiemout", "unknown field"},
		{"duplicate key", base("id: other\n"), "id", "duplicate"},
		{"duplicate json key", `{"id":"a","id":"b"}`, "id", "duplicate"},
		{"missing id", "version: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "required"},
		{"id with dot", "id: a.b\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "no dots"},
		{"id with space", "id: a b\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "not a valid id"},
		{"id star", "id: 'a*'\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "not a valid id"},
		{"id too long", "id: " + strings.Repeat("x", 65) + "\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "not a valid id"},
		{"id adhoc", "id: adhoc\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "reserved"},
		{"id is a list", "id: [a]\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n", "id", "must be a string"},
		{"missing version", "id: a\nexecute: {shell: sh, script: x, timeout: 1s}\n", "version", "required"},
		{"version space", "id: a\nversion: 1 beta\nexecute: {shell: sh, script: x, timeout: 1s}\n", "version", "without spaces"},
		{"missing execute", "id: a\nversion: v\n", "execute", "required"},
		{"execute scalar", "id: a\nversion: v\nexecute: run\n", "execute", "must be a mapping"},
		{"missing shell", "id: a\nversion: v\nexecute: {script: x, timeout: 1s}\n", "execute.shell", "required"},
		{"bad shell", "id: a\nversion: v\nexecute: {shell: zsh, script: x, timeout: 1s}\n", "execute.shell", "not one of"},
		{"missing script", "id: a\nversion: v\nexecute: {shell: sh, timeout: 1s}\n", "execute.script", "required"},
		{"blank script", "id: a\nversion: v\nexecute: {shell: sh, script: '  ', timeout: 1s}\n", "execute.script", "required"},
		{"missing timeout", "id: a\nversion: v\nexecute: {shell: sh, script: x}\n", "execute.timeout", "required"},
		{"bad duration", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 10 minutes}\n", "execute.timeout", "invalid duration"},
		{"unitless", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 600}\n", "execute.timeout", "unit"},
		{"negative", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: -5s}\n", "execute.timeout", "negative"},
		{"zero", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 0s}\n", "execute.timeout", "at least 1s"},
		{"huge", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 99999999999999999999d}\n", "execute.timeout", "maximum"},
		{"bad run_as", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s, run_as: root}\n", "execute.run_as", "not one of"},
		{"tags not list", "id: a\nversion: v\ntags: x\nexecute: {shell: sh, script: x, timeout: 1s}\n", "tags", "must be a list"},
		{"blank tag", "id: a\nversion: v\ntags: ['x', ' ']\nexecute: {shell: sh, script: x, timeout: 1s}\n", "tags[1]", "blank"},
		{"null tag", "id: a\nversion: v\ntags: [x, ~]\nexecute: {shell: sh, script: x, timeout: 1s}\n", "tags[1]", "empty"},
		{"huge script", "id: a\nversion: v\nexecute: {shell: sh, timeout: 1s, script: " + strings.Repeat("x", MaxScriptBytes+1) + "}\n", "execute.script", "at most"},
		{"deep nesting", strings.Repeat("[", 200000) + strings.Repeat("]", 200000), "", "tokens"},
		{"huge flat mapping", strings.Repeat("k: v\n", 100000), "", "tokens"},
		{"deep json", `{"id":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", "deeper than"},
		{"merge key", "base: &b {shell: sh}\nid: a\n", "", "merge keys"},
		{"unknown alias", "id: *nope\n", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if c.name == "merge key" {
				// "<<" needs a mapping value to be a merge; this one is an unknown key.
				return
			}
			if c.name == "unknown alias" {
				fieldOf(t, err)
				return
			}
			if f := fieldOf(t, err); f != c.field {
				t.Fatalf("field %q, want %q (err %v)", f, c.field, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestUnknownFieldHasLine(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("id: a\nversion: v\nexecute:\n  shell: sh\n  script: x\n  timout: 1s\n"))
	if err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("want line and known fields in %v", err)
	}
}

func TestParseAll(t *testing.T) {
	t.Parallel()
	stream := "# first\n" + goodYAML + "---\n# second job\nid: other\nversion: '2'\nexecute:\n  shell: sh\n  script: |\n    echo ---\n  timeout: 1m\n---\n# empty\n"
	docs, err := ParseAll([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Manifest.ID != "cleanup-temp" || docs[1].Manifest.ID != "other" {
		t.Fatalf("docs %+v", docs)
	}
	if !strings.Contains(string(docs[1].Source), "# second job") || strings.Contains(string(docs[1].Source), "cleanup") {
		t.Fatalf("source %q", docs[1].Source)
	}
	if docs[1].Manifest.Execute.Script != "echo ---\n" {
		t.Fatalf("script %q", docs[1].Manifest.Execute.Script)
	}
	// A bad second document names its index and still carries the field.
	_, err = ParseAll([]byte(goodYAML + "---\nid: x.y\nversion: v\nexecute: {shell: sh, script: x, timeout: 1s}\n"))
	var de *DocumentError
	if !errors.As(err, &de) || de.Index != 2 || fieldOf(t, err) != "id" {
		t.Fatalf("err %v", err)
	}
	if _, err := ParseAll([]byte("# nothing\n---\n")); err == nil {
		t.Fatal("empty stream accepted")
	}
	docs, err = ParseAll([]byte(`{"id":"j","version":"1","execute":{"shell":"sh","script":"x","timeout":"1s"}}`))
	if err != nil || len(docs) != 1 {
		t.Fatalf("json stream: %v", err)
	}
}

func TestValidateInCode(t *testing.T) {
	t.Parallel()
	m := Manifest{ID: "a", Version: "1", Execute: Execute{Shell: "sh", Script: "x", Timeout: "1m", RunAs: "system"}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	m.Execute.RunAs = ""
	if fieldOf(t, m.Validate()) != "execute.run_as" {
		t.Fatal("empty run_as accepted in code")
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	dl := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	c := m.Command("e1", "r1", Plan{Target: Target{All: true}, Jitter: "5m", DeadlineAt: &dl})
	if c.ID != m.ID || c.Version != m.Version || c.ExecID != "e1" || c.RequestID != "r1" || c.TimeoutSecs != 600 ||
		c.JitterSecs != 300 || c.RunAs != "system" || c.Cwd != `C:\Temp` || !c.DeadlineAt.Equal(dl) || c.Shell != "powershell" {
		t.Fatalf("command %+v", c)
	}
}

func TestInventoryDeclaration(t *testing.T) {
	const base = "id: sw\nversion: '1'\nexecute: {shell: sh, script: echo, timeout: 10s}\n"
	m, err := Parse([]byte(base + "inventory: {table: software, key: [name], columns: [name, version, publisher]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Inventory{Table: "software", Key: []string{"name"}, Columns: []string{"name", "version", "publisher"}}
	if !reflect.DeepEqual(m.Inventory, want) {
		t.Fatalf("inventory = %+v", m.Inventory)
	}
	// JSON round trip (the KV jobs document).
	back, err := Parse(m.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip: %+v != %+v", back, m)
	}
	if plain, _ := Parse([]byte(base)); strings.Contains(string(plain.JSON()), "inventory") {
		t.Fatalf("a plain job serialises inventory: %s", plain.JSON())
	}
	bad := map[string]string{
		"inventory: {key: [name], columns: [name]}":                      "inventory.table",
		"inventory: {table: Software, key: [name], columns: [name]}":     "inventory.table",
		"inventory: {table: facts, key: [name], columns: [name]}":        "inventory.table",
		"inventory: {table: s, key: [name], columns: [name, name]}":      "inventory.columns[1]",
		"inventory: {table: s, key: [name], columns: [name, a:b]}":       "inventory.columns[1]",
		"inventory: {table: s, key: [], columns: [name]}":                "inventory.key",
		"inventory: {table: s, columns: [name]}":                         "inventory.key",
		"inventory: {table: s, key: [version], columns: [name]}":         "inventory.key[0]",
		"inventory: {table: s, key: [name, name], columns: [name]}":      "inventory.key[1]",
		"inventory: {table: s, key: [name]}":                             "inventory.columns",
		"inventory: {table: s, key: [name], columns: [name], extra: 1}":  "inventory.extra",
		"inventory: {table: s, key: [name], columns: [name], key2: [a]}": "inventory.key2",
		"inventory: [software]":                                          "inventory",
	}
	for doc, field := range bad {
		_, err := Parse([]byte(base + doc + "\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: err = %v, want field %s", doc, err, field)
		}
	}
	many := make([]string, MaxInventoryColumns+1)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	_, err = Parse([]byte(base + "inventory: {table: s, key: [c0], columns: [" + strings.Join(many, ", ") + "]}\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "inventory.columns" {
		t.Errorf("65 columns: %v", err)
	}
}

func TestCheckDeclaration(t *testing.T) {
	const base = "id: disk\nversion: '1'\nexecute: {shell: sh, script: echo, timeout: 10s}\n"
	m, err := Parse([]byte(base + "check: {pass: {exit_code: 0}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	if want := (&Check{Pass: CheckPass{ExitCode: &zero}, Severity: "warning", FlapThreshold: 1}); !reflect.DeepEqual(m.Check, want) {
		t.Fatalf("defaults: %+v", m.Check)
	}
	m, err = Parse([]byte(base + "check: {pass: {stdout_matches: '^OK'}, severity: critical, flap_threshold: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Check.Severity != "critical" || m.Check.FlapThreshold != 2 || m.Check.Pass.StdoutMatches != "^OK" || m.Check.Pass.ExitCode != nil {
		t.Fatalf("check = %+v", m.Check)
	}
	back, err := Parse(m.JSON())
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if plain, _ := Parse([]byte(base)); strings.Contains(string(plain.JSON()), "check") {
		t.Fatalf("a plain job serialises check: %s", plain.JSON())
	}
	bad := map[string]string{
		"check: {}":         "check.pass",
		"check: {pass: {}}": "check.pass",
		"check: {pass: {exit_code: 0, stdout_matches: x}}":   "check.pass",
		"check: {pass: {exit_code: 300}}":                    "check.pass.exit_code",
		"check: {pass: {exit_code: zero}}":                   "check.pass.exit_code",
		"check: {pass: {stdout_matches: '(unclosed'}}":       "check.pass.stdout_matches",
		"check: {pass: {stdout_matches: 'a{1001}'}}":         "check.pass.stdout_matches",
		"check: {pass: {exit_code: 0}, severity: fatal}":     "check.severity",
		"check: {pass: {exit_code: 0}, flap_threshold: 0}":   "check.flap_threshold",
		"check: {pass: {exit_code: 0}, flap_threshold: 101}": "check.flap_threshold",
		"check: {pass: {exit_code: 0}, flap_threshold: two}": "check.flap_threshold",
		"check: {pass: {exit_code: 0}, extra: 1}":            "check.extra",
		"check: {pass: {exit_code: 0, regex: x}}":            "check.pass.regex",
		"check: [x]": "check",
		"check: {pass: {stdout_matches: '" + strings.Repeat("a", 1025) + "'}}":         "check.pass.stdout_matches",
		"check: {pass: {exit_code: 0}}\ninventory: {table: s, key: [a], columns: [a]}": "check",
	}
	for doc, field := range bad {
		_, err := Parse([]byte(base + doc + "\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%.80s: err = %v, want field %s", doc, err, field)
		}
	}
}
