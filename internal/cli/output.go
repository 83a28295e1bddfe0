package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"golang.org/x/term"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/csvout"
)

// emit prints raw API JSON as -o json (indented, otherwise as the API sent
// it), -o yaml or -o csv (an object is one row); with -o table it calls
// table.
func (a *app) emit(raw []byte, table func(w io.Writer) error) error {
	switch a.output {
	case "csv":
		if a.streamed {
			return nil
		}
		rows, err := csvout.DecodePage(raw)
		if err != nil {
			return fmt.Errorf("render CSV: %w", err)
		}
		_, err = csvout.NewWriter(a.opt.Out, nil).WriteRows(rows, -1)
		return err
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
			_, err = a.opt.Out.Write(raw)
			return err
		}
		buf.WriteByte('\n')
		_, err := a.opt.Out.Write(buf.Bytes())
		return err
	case "yaml":
		y, err := yaml.JSONToYAML(bytes.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("render YAML: %w", err)
		}
		_, err = a.opt.Out.Write(y)
		return err
	default:
		return table(a.opt.Out)
	}
}

// wide reports -o wide: a table with more columns (tables without a wide
// form print as -o table).
func (a *app) wide() bool { return a.output == "wide" }

// emitValue is emit for a value the CLI built itself (-o csv takes the
// columns from its type).
func (a *app) emitValue(v any, table func(w io.Writer) error) error {
	if a.output == "csv" {
		if a.streamed {
			return nil
		}
		return csvout.WriteValues(a.opt.Out, v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.emit(raw, table)
}

// table writes aligned columns; the header is always printed so the column
// set is visible (and stable) even when there are no rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
		cells[i] = strings.ReplaceAll(strings.ReplaceAll(cells[i], "\t", " "), "\n", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// kv writes "key: value" lines aligned.
func kv(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], v)
	}
	return tw.Flush()
}

// when renders a time relative and absolute: "3m ago (2026-01-02 15:04:05Z)".
func (a *app) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return a.opt.TimeText(t, a.opt.Now())
}

func (a *app) whenPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return a.when(*t)
}

func timeText(t, now time.Time) string {
	return relText(t, now) + " (" + t.UTC().Format("2006-01-02 15:04:05Z") + ")"
}

func relText(t, now time.Time) string {
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
		return "in " + shortDur(d)
	}
	if d < time.Second {
		return "just now"
	}
	return shortDur(d) + suffix
}

// shortDur is the coarse form: 45s, 3m, 2h5m, 4d.
func shortDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// durText renders a run's duration precisely enough for scripts that run
// in milliseconds and for ones that run for hours.
func durText(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func isTerminal(f any) bool {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(fd.Fd()))
	}
	return false
}

// readPassword reads without echo from a terminal, else one line.
func readPassword(in io.Reader) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	return readLine(in)
}

// readLine reads one line byte by byte, so nothing after it is consumed
// from a shared reader.
func readLine(in io.Reader) (string, error) {
	var sb strings.Builder
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			sb.WriteByte(b[0])
		}
		if err != nil {
			if err == io.EOF && sb.Len() > 0 {
				break
			}
			return "", err
		}
	}
	return strings.TrimRight(sb.String(), "\r"), nil
}

// simple makes a call whose answer needs no table: it prints msg, or with
// -o json the API's answer ({"ok":true} when it sent none).
func (a *app) simple(call func(c *apiv1.Client) (any, error), msg string) error {
	c, err := a.api()
	if err != nil {
		return err
	}
	v, err := call(c)
	if err != nil {
		return err
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	return a.emitValue(v, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, msg)
		return err
	})
}

// emitJSON prints a JSON document indented, whatever -o says.
func (a *app) emitJSON(raw []byte) error {
	saved := a.output
	a.output = "json"
	defer func() { a.output = saved }()
	return a.emit(raw, nil)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
