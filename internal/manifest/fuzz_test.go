package manifest

import (
	"errors"
	"testing"
)

// The fuzz targets check that no input panics, that every failure is a
// *FieldError, and that whatever is accepted round-trips through the JSON
// stored in KV.

func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		goodYAML,
		`{"id":"a","version":"1","execute":{"shell":"sh","script":"true","timeout":"30s"}}`,
		"id: a\nversion: 1.10\nexecute: {shell: sh, script: x, timeout: 2d12h, run_as: user}\ntags: [&t x, *t]\n",
		"id: a\nversion: v\nexecute:\n  shell: sh\n  script: x\n  timout: 30s\n",
		"id: [a\n", "{\"id\": \"a\"", "- a\n", "id: a.b\n", "---\n---\n", "a: &a [*a]\n", "<<: {a: 1}\n",
		"id: !!str 5\nversion: !!str true\nexecute: {shell: sh, script: |\n  x\n, timeout: 1s}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, not *FieldError", err, err)
			}
			return
		}
		back, err := Parse(m.JSON())
		if err != nil {
			t.Fatalf("accepted %q but its JSON %s does not parse: %v", data, m.JSON(), err)
		}
		if string(back.JSON()) != string(m.JSON()) {
			t.Fatalf("round trip changed %s → %s", m.JSON(), back.JSON())
		}
		_ = m.TimeoutSecs()
		_, _ = ParseAll(data)
	})
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{
		`{"target":{"all":true}}`, `{"target":{"groups":["a"],"pcs":["b"]},"jitter":"5m","deadline_at":"2027-01-05T09:00:00Z"}`,
		"rollout: {waves: [{group: a}, {group: b, delay: 30m}]}", `{"rollout":{"waves":[{"group":"a","dealy":"1m"}]}}`, `{}`,
		"target: {all: true}\nrollout: {waves: [{group: canary}, {percent: 25, delay: 1m}, {rest: true}], halt_on: {failures: 2}}",
		`{"target":{"pcs":["a","b"]},"rollout":{"waves":[{"percent":50},{"rest":true}],"halt_on":{"failure_pct":10}}}`,
		`{"target":{"all":true},"rollout":{"waves":[{"percent":"1e3"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T", err, err)
			}
			return
		}
		if _, err := ParsePlan(p.JSON()); err != nil {
			t.Fatalf("JSON %s does not parse back: %v", p.JSON(), err)
		}
		_ = p.Subjects()
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "10m", "1h30m", "1d", "2d12h", "1.5h", "500ms", "0", "-1s", "1e9d", "99999999999999999999d", ".", "1h 30m", "365d", "366d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || d > MaxDuration {
			t.Fatalf("ParseDuration(%q) = %v out of range", s, d)
		}
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Fatalf("FormatDuration(%v) = %q → %v, %v", d, FormatDuration(d), back, err)
		}
	})
}
