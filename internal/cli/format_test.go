package cli

import (
	"strings"
	"testing"
	"time"
)

func TestTimeText(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-300 * time.Millisecond), "just now (2026-03-01 11:59:59Z)"},
		{now.Add(-45 * time.Second), "45s ago (2026-03-01 11:59:15Z)"},
		{now.Add(-3 * time.Minute), "3m ago (2026-03-01 11:57:00Z)"},
		{now.Add(-2*time.Hour - 5*time.Minute), "2h5m ago (2026-03-01 09:55:00Z)"},
		{now.Add(-5 * time.Hour), "5h ago (2026-03-01 07:00:00Z)"},
		{now.Add(-50 * time.Hour), "2d ago (2026-02-27 10:00:00Z)"},
		{now.Add(90 * time.Minute), "in 1h30m (2026-03-01 13:30:00Z)"},
	} {
		if got := timeText(c.at, now); got != c.want {
			t.Errorf("timeText(%v) = %q, want %q", c.at, got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{120 * time.Millisecond: "120ms", 2500 * time.Millisecond: "2.5s", 95 * time.Second: "1m35s", -time.Second: ""} {
		if got := durText(d); got != want {
			t.Errorf("durText(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTableAlignsAndStable(t *testing.T) {
	var sb strings.Builder
	tb := newTable(&sb, "A", "LONGER")
	tb.row("xxxxx", "")
	tb.row("y", "tab\there\nnewline")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	want := "A      LONGER\nxxxxx  -\ny      tab here newline\n"
	if sb.String() != want {
		t.Fatalf("table:\n%q\nwant\n%q", sb.String(), want)
	}
}

func TestParseWave(t *testing.T) {
	w, err := parseWave("group=canary, delay=30m")
	if err != nil || w.Group != "canary" || w.Delay != "30m" {
		t.Fatalf("parseWave: %+v %v", w, err)
	}
	for _, bad := range []string{"", "delay=5m", "group", "group=a,speed=2"} {
		if _, err := parseWave(bad); err == nil {
			t.Errorf("parseWave(%q) accepted", bad)
		}
	}
}

func FuzzParseWave(f *testing.F) {
	for _, s := range []string{"group=canary,delay=30m", "group=a", "delay=1h,group=b", "group==,", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseWave(s)
		if err == nil && w.Group == "" {
			t.Fatalf("parseWave(%q) gave a wave without a group", s)
		}
	})
}

func FuzzReadLine(f *testing.F) {
	for _, s := range []string{"admin\npassword\n", "no newline", "\r\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := strings.NewReader(s)
		line, err := readLine(r)
		if err != nil {
			return
		}
		if strings.Contains(line, "\n") {
			t.Fatalf("readLine(%q) = %q contains a newline", s, line)
		}
		if !strings.HasPrefix(s, line) {
			t.Fatalf("readLine(%q) = %q is not a prefix", s, line)
		}
	})
}
