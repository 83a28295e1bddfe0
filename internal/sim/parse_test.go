package sim

import (
	"testing"
	"time"
)

func TestParseGroupsAndAssign(t *testing.T) {
	g, err := ParseGroups("canary:1%, lab:3 ,wave1:rest")
	if err != nil {
		t.Fatal(err)
	}
	a := Assign(g, 1000)
	count := map[string]int{}
	for _, gs := range a {
		if len(gs) != 1 {
			t.Fatalf("memberships overlap or are missing: %v", gs)
		}
		count[gs[0]]++
	}
	if count["canary"] != 10 || count["lab"] != 3 || count["wave1"] != 987 {
		t.Fatalf("%v", count)
	}
	if a[0][0] != "canary" || a[10][0] != "lab" || a[999][0] != "wave1" {
		t.Fatalf("order: %v %v %v", a[0], a[10], a[999])
	}
	for _, bad := range []string{"canary", "x.y:1", "g:0%", "g:101%", "g:-1", "g:abc"} {
		if _, err := ParseGroups(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDist(t *testing.T) {
	for in, check := range map[string]func(time.Duration) bool{
		"0":             func(d time.Duration) bool { return d == 0 },
		"250ms":         func(d time.Duration) bool { return d == 250*time.Millisecond },
		"uniform:1s-2s": func(d time.Duration) bool { return d >= time.Second && d < 2*time.Second },
		"uniform:1s-1s": func(d time.Duration) bool { return d == time.Second },
		"exp:100ms":     func(d time.Duration) bool { return d >= 0 },
	} {
		d, err := ParseDist(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		for range 100 {
			if s := d.Sample(); !check(s) {
				t.Fatalf("%s sampled %s", in, s)
			}
		}
	}
	for _, bad := range []string{"-1s", "uniform:2s-1s", "uniform:1s", "exp:x", "fast"} {
		if _, err := ParseDist(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := summarize(ds)
	if p.N != 100 || p.P50 != 50*time.Millisecond || p.P95 != 95*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Fatalf("%+v", p)
	}
	if summarize(nil).N != 0 {
		t.Fatal("empty")
	}
}
