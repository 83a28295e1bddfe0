package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
)

func (a *app) revokeCmd(revoke bool) *cobra.Command {
	verb, status := "revoke", apiv1.JobRevoked
	short := "Revoke a job: agents refuse to run it (exit 126) until unrevoked"
	if !revoke {
		verb, status = "unrevoke", apiv1.JobActive
		short = "Make a revoked job runnable again"
	}
	return &cobra.Command{
		Use:               verb + " <job_id>",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeIDs(listJobIDs, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			set := c.RevokeScript
			if !revoke {
				set = c.UnrevokeScript
			}
			res, err := set(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "job %s is now %s\n", args[0], status)
				return err
			})
		},
	}
}

func (a *app) jobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Aliases: []string{"jobs"}, Short: "Manage jobs (manifests: what runs)"}
	var bound func() (int, error)
	cmd.AddCommand(&cobra.Command{
		Use:   "apply <file|dir|glob>...",
		Short: "Validate locally, then create or update jobs from YAML/JSON manifests",
		Long: `Create or update jobs. Each argument is a file, a directory (every *.yaml,
*.yml and *.json below it) or a glob. Files may hold several YAML documents
separated by "---". Every document is validated locally first; valid ones are
sent to the backend, and the result is reported per file and document. The
exit status is 1 if any document failed.`,
		Example: `  kanade job apply jobs/
  kanade job apply 'jobs/*.yaml' extra.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, true, jobDocs)
		},
	}, &cobra.Command{
		Use:   "validate <file|dir|glob>...",
		Short: "Validate manifests locally, without a backend (for CI)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, false, jobDocs)
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			jobs, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Job], error) {
				return c.ListJobs(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(jobs, func(w io.Writer) error {
				t := newTable(w, "ID", "VERSION", "STATUS", "PINNED", "SHELL", "TIMEOUT", "RUN_AS", "DESCRIPTION")
				for _, j := range jobs {
					t.row(j.ID, j.Version, string(j.Status), deref(j.PinnedVersion), j.Execute.Shell, j.Execute.Timeout, j.Execute.RunAs, j.Description)
				}
				return t.flush()
			})
		},
	}, &cobra.Command{
		Use:               "show <id>",
		Short:             "Show one job with its original YAML (a unique prefix of the id will do)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeIDs(listJobIDs, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			j, err := c.GetJob(cmd.Context(), args[0])
			if e := notFound(err, "job", args[0]); e != err {
				var id string
				if id, err = resolveJobID(cmd.Context(), c, args[0]); err != nil {
					return err
				}
				j, err = c.GetJob(cmd.Context(), id)
			}
			if err != nil {
				return err
			}
			return a.emitValue(j, func(w io.Writer) error {
				if err := kv(w, "id", j.ID, "version", j.Version, "status", string(j.Status), "pinned_version", deref(j.PinnedVersion),
					"description", j.Description, "tags", strings.Join(j.Tags, ",")); err != nil {
					return err
				}
				src := deref(j.YAML)
				if src == "" {
					src = j.Execute.Script
				}
				_, err := fmt.Fprintf(w, "\n%s", strings.TrimRight(src, "\n")+"\n")
				return err
			})
		},
	}, &cobra.Command{
		Use:               "delete <id>",
		Short:             "Delete a job (refused while a schedule references it)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeIDs(listJobIDs, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, notFound(c.DeleteJob(cmd.Context(), args[0]), "job", args[0])
			}, "deleted job "+args[0])
		},
	})
	bound = pagingFlags(subcommand(cmd, "list"), 0)
	return cmd
}

// docResult is one line of `job apply` / `schedule apply` output.
type docResult struct {
	File    string `json:"file"`
	Doc     int    `json:"doc"`
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	OK      bool   `json:"ok"`
	Action  string `json:"action"` // valid | applied | invalid | failed
	Error   string `json:"error,omitempty"`
}

// docKind says how to parse, how to submit and what the second column of
// the report is.
type docKind struct {
	parse  func([]byte) ([]parsedDoc, error)
	submit func(ctx context.Context, c *apiv1.Client, src apiv1.Source) error
	second string
}

var (
	jobDocs = docKind{parseJobs, func(ctx context.Context, c *apiv1.Client, src apiv1.Source) error {
		_, err := c.PutJob(ctx, src)
		return err
	}, "VERSION"}
	scheduleDocs = docKind{parseSchedules, func(ctx context.Context, c *apiv1.Client, src apiv1.Source) error {
		_, err := c.ApplySchedule(ctx, src)
		return err
	}, "JOB"}
)

// parsedDoc is one document of a file, parsed locally.
type parsedDoc struct {
	ID, Version string
	Source      []byte
	Err         error
}

// parseJobs splits a file into documents and validates each on its own, so
// one bad document does not hide the state of the others.
func parseJobs(data []byte) ([]parsedDoc, error) {
	srcs, err := manifest.SplitDocuments(data)
	if err != nil {
		return nil, err
	}
	out := make([]parsedDoc, 0, len(srcs))
	for _, src := range srcs {
		m, err := manifest.Parse(src)
		out = append(out, parsedDoc{ID: m.ID, Version: m.Version, Source: src, Err: err})
	}
	return out, nil
}

func parseSchedules(data []byte) ([]parsedDoc, error) {
	srcs, err := manifest.SplitDocuments(data)
	if err != nil {
		return nil, err
	}
	out := make([]parsedDoc, 0, len(srcs))
	for _, src := range srcs {
		s, err := schedule.Parse(src)
		out = append(out, parsedDoc{ID: s.ID, Version: s.JobID, Source: src, Err: err})
	}
	return out, nil
}

// expandPaths turns files, directories and globs into a sorted file list.
func expandPaths(args []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, arg := range args {
		matches := []string{arg}
		if strings.ContainsAny(arg, "*?[") {
			m, err := filepath.Glob(arg)
			if err != nil {
				return nil, usagef("bad glob %q: %v", arg, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%s: no file matches", arg)
			}
			matches = m
		}
		for _, p := range matches {
			fi, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, errors.Unwrap(err))
			}
			if !fi.IsDir() {
				add(p)
				continue
			}
			var found []string
			err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				switch strings.ToLower(filepath.Ext(path)) {
				case ".yaml", ".yml", ".json":
					if !d.IsDir() {
						found = append(found, path)
					}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("read directory %s: %w", p, err)
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s: no .yaml, .yml or .json files in this directory", p)
			}
			sort.Strings(found)
			for _, f := range found {
				add(f)
			}
		}
	}
	return files, nil
}

// applyDocs validates every document of every file and, when submit is
// set, submits the valid ones as text (the backend keeps it).
func (a *app) applyDocs(ctx context.Context, args []string, submit bool, k docKind) error {
	parse, second := k.parse, k.second
	files, err := expandPaths(args)
	if err != nil {
		return err
	}
	var c *apiv1.Client
	if submit {
		if c, err = a.api(); err != nil {
			return err
		}
	}
	var results []docResult
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			results = append(results, docResult{File: f, Action: "invalid", Error: err.Error()})
			continue
		}
		docs, err := parse(data)
		if err != nil {
			results = append(results, docResult{File: f, Action: "invalid", Error: fieldMsg(err)})
			continue
		}
		for i, d := range docs {
			r := docResult{File: f, Doc: i + 1, ID: d.ID, Version: d.Version}
			switch {
			case d.Err != nil:
				r.Action, r.Error = "invalid", fieldMsg(d.Err)
			case !submit:
				r.Action, r.OK = "valid", true
			default:
				if err := k.submit(ctx, c, d.Source); err != nil {
					ae, ok := err.(*apiv1.Error)
					if !ok {
						// Backend unreachable: every later document would fail the same way.
						return err
					}
					r.Action, r.Error = "failed", apiMsg(ae)
				} else {
					r.Action, r.OK = "applied", true
				}
			}
			results = append(results, r)
		}
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if err := a.emitValue(results, func(w io.Writer) error {
		t := newTable(w, "FILE", "DOC", "ID", second, "RESULT", "ERROR")
		for _, r := range results {
			doc := ""
			if r.Doc > 0 {
				doc = fmt.Sprint(r.Doc)
			}
			t.row(r.File, doc, r.ID, r.Version, r.Action, r.Error)
		}
		return t.flush()
	}); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d documents failed", failed, len(results))
	}
	return nil
}

// fieldMsg renders a local validation error with its field path.
func fieldMsg(err error) string {
	var de *manifest.DocumentError
	if errors.As(err, &de) {
		err = de.Err
	}
	var fe *manifest.FieldError
	if errors.As(err, &fe) && fe.Field != "" {
		return fe.Field + ": " + fe.Msg
	}
	return err.Error()
}

// apiMsg is the short form of an API error for a table cell.
func apiMsg(e *apiv1.Error) string {
	msg := e.Message
	if e.Field != "" && !strings.HasPrefix(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	if e.Status == http.StatusUnauthorized {
		return msg + " (run `kanade login`)"
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
