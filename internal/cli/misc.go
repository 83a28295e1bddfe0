package cli

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kanade-fleet/kanade/internal/version"
)

// Schedule is GET /api/schedules rows.
type Schedule struct {
	ID      string `json:"id"`
	JobID   string `json:"job_id"`
	Enabled bool   `json:"enabled"`
	TZ      string `json:"tz"`
	When    struct {
		Cron     string `json:"cron"`
		Calendar *struct {
			At   string   `json:"at"`
			Days []string `json:"days"`
		} `json:"calendar"`
		PerPC any `json:"per_pc"`
	} `json:"when"`
	NextFire   *time.Time `json:"next_fire"`
	LastFire   *time.Time `json:"last_fire"`
	LastExecID string     `json:"last_exec_id"`
}

func (s Schedule) whenText() string {
	switch {
	case s.When.Cron != "":
		return "cron " + s.When.Cron
	case s.When.Calendar != nil:
		t := "at " + s.When.Calendar.At
		if len(s.When.Calendar.Days) > 0 {
			t += " " + strings.Join(s.When.Calendar.Days, ",")
		}
		return t
	case s.When.PerPC != nil:
		switch v := s.When.PerPC.(type) {
		case string:
			return "per_pc " + v
		case map[string]any:
			return fmt.Sprintf("per_pc every %v", v["every"])
		}
	}
	return ""
}

func (a *app) scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Aliases: []string{"schedules"}, Short: "Manage schedules (when jobs run)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "apply <file|dir|glob>...",
		Short: "Validate locally, then create or update schedules from YAML/JSON",
		Long: `Create or update schedules, like ` + "`job apply`" + `: files, directories or globs,
multi-document YAML, validated locally first and reported per document; the
backend checks that the job exists. The exit status is 1 if any failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, true, scheduleDocs)
		},
	}, &cobra.Command{
		Use:   "validate <file|dir|glob>...",
		Short: "Validate schedules locally, without a backend (for CI)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, false, scheduleDocs)
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List schedules with their next and last fire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := a.call(cmd.Context(), http.MethodGet, "/api/schedules", nil, nil, "")
			if err != nil {
				return err
			}
			var rows []Schedule
			if err := decodeBody(res, "/api/schedules", &rows); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				t := newTable(w, "ID", "JOB", "ENABLED", "WHEN", "TZ", "NEXT_FIRE", "LAST_FIRE", "LAST_EXEC")
				for _, s := range rows {
					en := "no"
					if s.Enabled {
						en = "yes"
					}
					t.row(s.ID, s.JobID, en, s.whenText(), s.TZ, a.whenPtr(s.NextFire), a.whenPtr(s.LastFire), s.LastExecID)
				}
				return t.flush()
			})
		},
	}, &cobra.Command{
		Use:   "delete <id>",
		Short: "Delete a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(cmd.Context(), http.MethodDelete, "/api/schedules/"+pathEsc(args[0]), nil, "deleted schedule "+args[0])
		},
	}, &cobra.Command{
		Use:   "enable <id>",
		Short: "Enable a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(cmd.Context(), http.MethodPost, "/api/schedules/"+pathEsc(args[0])+"/enable", nil, "enabled schedule "+args[0])
		},
	}, &cobra.Command{
		Use:   "disable <id>",
		Short: "Disable a schedule (it stays defined)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(cmd.Context(), http.MethodPost, "/api/schedules/"+pathEsc(args[0])+"/disable", nil, "disabled schedule "+args[0])
		},
	})
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var user string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to the backend and store the token for later commands",
		Long: `Prompt for a username and a password (not echoed), log in to the backend
(POST /api/auth/login) and store the token in the user's config directory
(kanade/token, mode 0600). Later commands send it unless --token or
KANADE_AUTH_TOKEN is given. --password-stdin reads the password from stdin
for scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := a.opt.In
			if user == "" {
				fmt.Fprint(a.opt.Err, "Username: ")
				u, err := readLine(in)
				if err != nil {
					return fmt.Errorf("read username: %w", err)
				}
				user = strings.TrimSpace(u)
			}
			if user == "" {
				return usagef("no username given")
			}
			var pw string
			var err error
			if passwordStdin {
				pw, err = readLine(in)
			} else {
				fmt.Fprint(a.opt.Err, "Password: ")
				pw, err = a.opt.ReadPassword(in)
				fmt.Fprintln(a.opt.Err)
			}
			if err != nil {
				return fmt.Errorf("read password: %w", err)
			}
			res, err := a.call(cmd.Context(), http.MethodPost, "/api/auth/login", nil,
				map[string]string{"username": user, "password": pw}, "")
			if err != nil {
				if ae, ok := err.(*apiError); ok && ae.Status == http.StatusUnauthorized {
					return fmt.Errorf("login as %s failed: %s; check the username and password", user, orDash(ae.Msg))
				}
				return err
			}
			var lr struct {
				Token string `json:"token"`
				Role  string `json:"role"`
				Exp   any    `json:"exp"`
			}
			if err := decodeBody(res, "/api/auth/login", &lr); err != nil {
				return err
			}
			if lr.Token == "" {
				return fmt.Errorf("login: the backend sent no token")
			}
			path, err := a.tokenPath()
			if err != nil {
				return err
			}
			if err := writeSecret(path, lr.Token); err != nil {
				return err
			}
			exp := ""
			switch v := lr.Exp.(type) {
			case float64:
				exp = a.when(time.Unix(int64(v), 0))
			case string:
				if t, err := time.Parse(time.RFC3339, v); err == nil {
					exp = a.when(t)
				}
			}
			msg := fmt.Sprintf("logged in to %s as %s (role %s); token stored in %s", a.backend, user, orDash(lr.Role), path)
			if exp != "" {
				msg += "; it expires " + exp
			}
			return a.emitValue(map[string]any{"username": user, "role": lr.Role, "exp": lr.Exp, "token_file": path}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, msg)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username (default: prompt)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (one line)")
	return cmd
}

// writeSecret writes a file readable by the user only, replacing it
// atomically so a crash never leaves half a token.
func writeSecret(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("store token: %w", err)
	}
	if _, err := tmp.WriteString(content + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("store token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store token in %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

func (a *app) completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for your shell, e.g.
  bash:       source <(kanade completion bash)
  zsh:        kanade completion zsh > "${fpath[1]}/_kanade"
  fish:       kanade completion fish > ~/.config/fish/completions/kanade.fish
  powershell: kanade completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := a.opt.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			default:
				return root.GenPowerShellCompletionWithDesc(w)
			}
		},
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the CLI's version (and the backend's, when reachable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.opt.Out, "kanade %s\n", version.Version)
			var v struct {
				Version string `json:"version"`
				Commit  string `json:"commit"`
			}
			if _, err := a.get(cmd.Context(), "/api/version", nil, &v); err != nil {
				fmt.Fprintf(a.opt.Out, "backend %s: %s\n", a.backend, oneLine(err.Error()))
				return nil
			}
			fmt.Fprintf(a.opt.Out, "backend %s: %s %s\n", a.backend, v.Version, v.Commit)
			return nil
		},
	}
}

// docsCmd writes docs/cli.md from the command tree (hidden: for `go run
// ./cmd/kanade docs > docs/cli.md`; a test checks the file is current).
func (a *app) docsCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "docs",
		Short:  "Write the CLI reference (Markdown) to stdout",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return GenMarkdown(root, a.opt.Out)
		},
	}
}

// GenMarkdown renders the reference of every visible command.
func GenMarkdown(root *cobra.Command, w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# kanade CLI reference\n\n")
	fmt.Fprintf(bw, "<!-- Generated by `go run ./cmd/kanade docs > docs/cli.md`; do not edit. -->\n\n")
	fmt.Fprintf(bw, "%s\n\n", root.Long)
	fmt.Fprintf(bw, "## Global flags\n\n```\n%s```\n\n", flagUsages(root.PersistentFlags()))
	fmt.Fprintf(bw, "## Commands\n\n")
	var walk func(c *cobra.Command)
	var all []*cobra.Command
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || !sub.IsAvailableCommand() && !sub.HasSubCommands() {
				continue
			}
			all = append(all, sub)
			walk(sub)
		}
	}
	walk(root)
	for _, c := range all {
		fmt.Fprintf(bw, "- [`%s`](#%s) — %s\n", c.CommandPath(), anchor(c.CommandPath()), c.Short)
	}
	fmt.Fprintln(bw)
	for _, c := range all {
		fmt.Fprintf(bw, "### %s\n\n%s\n\n", c.CommandPath(), c.Short)
		if c.Long != "" {
			fmt.Fprintf(bw, "%s\n\n", c.Long)
		}
		if c.Runnable() {
			fmt.Fprintf(bw, "```\n%s\n```\n\n", c.UseLine())
		}
		if len(c.Aliases) > 0 {
			fmt.Fprintf(bw, "Aliases: %s\n\n", strings.Join(c.Aliases, ", "))
		}
		if c.Example != "" {
			fmt.Fprintf(bw, "Examples:\n\n```\n%s\n```\n\n", c.Example)
		}
		if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() {
			fmt.Fprintf(bw, "Flags:\n\n```\n%s```\n\n", flagUsages(fs))
		}
		if c.HasAvailableSubCommands() {
			fmt.Fprintf(bw, "Subcommands:")
			for _, s := range c.Commands() {
				if s.IsAvailableCommand() {
					fmt.Fprintf(bw, " [`%s`](#%s)", s.Name(), anchor(s.CommandPath()))
				}
			}
			fmt.Fprintf(bw, "\n\n")
		}
	}
	return bw.Flush()
}

// flagUsages lists flags without the automatic -h/--help.
func flagUsages(fs *pflag.FlagSet) string {
	out := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			out.AddFlag(f)
		}
	})
	return out.FlagUsagesWrapped(100)
}

func anchor(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "-") }
