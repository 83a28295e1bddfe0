package check

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/wire"
)

func TestJudge(t *testing.T) {
	re, err := Compile(`^OK`)
	if err != nil {
		t.Fatal(err)
	}
	byCode, byOut := Rule{ExitCode: 0}, Rule{Pattern: re}
	// A match beyond the first MaxInput bytes is not seen.
	late := strings.Repeat("x", MaxInput) + "\nOK"
	cases := []struct {
		r    Rule
		res  wire.ExecResult
		want Verdict
	}{
		{byCode, wire.ExecResult{ExitCode: 0}, Pass},
		{byCode, wire.ExecResult{ExitCode: 2}, Fail},
		{byCode, wire.ExecResult{ExitCode: wire.ExitRefused}, None},
		{byCode, wire.ExecResult{ExitCode: wire.ExitKilled, TimedOut: true}, None},
		{byCode, wire.ExecResult{ExitCode: wire.ExitRevoked, Skipped: true}, None},
		{byCode, wire.ExecResult{ExitCode: 0, Killed: true}, None},
		{byOut, wire.ExecResult{ExitCode: 1, Stdout: "OK fine"}, Pass},
		{byOut, wire.ExecResult{Stdout: "not ok"}, Fail},
		{byOut, wire.ExecResult{Stdout: late}, Fail},
		{Rule{Pattern: regexpMust(t, `(?m)^OK`)}, wire.ExecResult{Stdout: late}, Fail},
		{Rule{Pattern: regexpMust(t, `x+$`)}, wire.ExecResult{Stdout: strings.Repeat("x", wire.MaxInlineOutput)}, Pass},
	}
	for i, c := range cases {
		if got := c.r.Judge(c.res); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
	for _, bad := range []string{"", "(", strings.Repeat("a", MaxPatternLen+1), "a{1001}", "(a{1000}){1000}"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("%.20q compiled", bad)
		}
	}
}

func regexpMust(t *testing.T, p string) *regexp.Regexp {
	t.Helper()
	re, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
