// Package cli is the kanade operator CLI: the cobra command tree (one file
// per top-level command), the NATS paths that work without a backend (run,
// ping, kill, jetstream status) and the output formatting. Every HTTP call
// goes through the typed client of the API contract (internal/apiv1).
//
// Everything a command touches from the outside world (stdio, environment,
// clock, config dir, terminal detection) goes through Options, so tests run
// the whole CLI in-process against real backends.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/version"
)

// Defaults of the global flags (SPEC §1).
const (
	DefaultBackend = "http://127.0.0.1:8080"
	DefaultNATSURL = "nats://127.0.0.1:4222"
)

// Options are the CLI's connections to the outside world. Zero fields take
// the process's own (os.Stdin, os.Getenv, time.Now, ...).
type Options struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
	// ConfigDir holds config.toml, the CLI contexts and their tokens
	// (default $XDG_CONFIG_HOME/kanade, else ~/.config/kanade; on Windows
	// os.UserConfigDir()/kanade).
	ConfigDir func() (string, error)
	Now       func() time.Time
	// IsTerminal reports whether w is an interactive terminal (live
	// progress lines, password prompt without echo).
	IsTerminal func(f any) bool
	// ReadPassword reads a line without echo from In when it is a terminal.
	ReadPassword func(in io.Reader) (string, error)
	// TimeText and DurText override time rendering (tests pin them so
	// golden files do not depend on the clock).
	TimeText func(t time.Time, now time.Time) string
	DurText  func(d time.Duration) string
	// PollEvery is how often `exec --wait` polls (default 500ms).
	PollEvery time.Duration
	// defaultConfigDir: ConfigDir is the default one, so a token of an
	// older CLI may also sit in os.UserConfigDir()/kanade.
	defaultConfigDir bool
}

func (o *Options) fill() {
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ConfigDir == nil {
		o.defaultConfigDir = true
		getenv := o.Getenv
		o.ConfigDir = func() (string, error) { return defaultConfigDir(getenv) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IsTerminal == nil {
		o.IsTerminal = isTerminal
	}
	if o.ReadPassword == nil {
		o.ReadPassword = readPassword
	}
	if o.TimeText == nil {
		o.TimeText = timeText
	}
	if o.DurText == nil {
		o.DurText = durText
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
}

// app is the state shared by every command of one invocation.
type app struct {
	opt       Options
	backend   string
	natsURL   string
	natsToken string
	natsUser  string
	natsPass  string
	natsCreds string
	token     string
	// contextName is --context; ctxName the context this invocation uses
	// ("" = none), ctx its settings (below flags and env).
	contextName string
	ctxName     string
	ctx         *cliContext
	ctxToken    string
	warnedMode  bool // config.toml's loose mode was reported
	output      string
	timeout     time.Duration
	// streamed: a list command's -o csv rows went out page by page
	// (listAll); emit has nothing left to print.
	streamed bool
}

// ExitError ends the command with Code without printing anything more
// (the command already said what happened, e.g. `run` mirroring the remote
// exit code).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// usageError marks a bad command line: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// Main runs the CLI with args (without the program name) and returns the
// process exit status: 0 ok, 1 failure, 2 usage error, or the remote exit
// code of `kanade run`.
func Main(ctx context.Context, args []string, opt Options) int {
	opt.fill()
	root := NewRoot(opt)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	code := 1
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		code = 2
	}
	fmt.Fprintf(opt.Err, "kanade: %s\n", oneLine(cobraSuggestion(err.Error())))
	if code == 2 {
		fmt.Fprintln(opt.Err, "Run 'kanade --help' (or 'kanade <command> --help') for usage.")
	}
	return code
}

// isCobraUsage recognises cobra's own command-line errors, which are plain
// errors (unknown command, wrong argument count).
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(s, p) || strings.Contains(s, " "+p) {
			return true
		}
	}
	return false
}

// cobraSuggestion writes cobra's "\n\nDid you mean this?\n\tversion"
// (a typo of a top-level command) as the groups and flags say it.
func cobraSuggestion(s string) string {
	const marker = "\n\nDid you mean this?\n"
	i := strings.Index(s, marker)
	if i < 0 {
		return s
	}
	return s[:i] + "; did you mean " + strings.Join(strings.Fields(s[i+len(marker):]), " or ") + "?"
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// NewRoot builds the command tree. opt must have been filled (Main does it);
// zero fields are filled here too.
func NewRoot(opt Options) *cobra.Command {
	opt.fill()
	a := &app{opt: opt}
	root := &cobra.Command{
		Use:   "kanade",
		Short: "Operate a kanade fleet: jobs, executions, schedules, agents",
		Long: `kanade drives a kanade fleet. Most commands talk to the backend's HTTP API
(--backend, bearer token from --token, KANADE_AUTH_TOKEN or ` + "`kanade login`" + `);
run, ping, kill and jetstream status talk to the NATS broker directly
(--nats-url, --nats-token or --nats-user/--nats-password), so they keep
working while the backend is down.

Contexts (` + "`kanade config set-context`, `use-context`, `--context`" + `) keep several
backends with their tokens in ~/.config/kanade/config.toml; each setting comes from
its flag, else its KANADE_* variable, else the context, else the default.

Output is a table by default; -o json prints the API's JSON for scripts.
Ids (exec, result, job, PC) may be abbreviated to a unique prefix, like git's.
Exit status: 0 ok, 1 failure (also an id the backend does not know), 2 usage
error (unknown command or flag); ` + "`kanade run`" + ` exits with the remote
script's exit code.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.resolve(cmd) },
	}
	root.SetIn(opt.In)
	root.SetOut(opt.Out)
	root.SetErr(opt.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{suggestFlag(c, err)} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.backend, "backend", DefaultBackend, "backend HTTP API URL [KANADE_BACKEND_URL]")
	pf.StringVar(&a.natsURL, "nats-url", DefaultNATSURL, "NATS broker URL(s), comma-separated [KANADE_NATS_URL]")
	pf.StringVar(&a.natsToken, "nats-token", "", "NATS broker token [KANADE_NATS_TOKEN]")
	pf.StringVar(&a.natsUser, "nats-user", "", "NATS broker user, when the broker has per-role users [KANADE_NATS_USER]")
	pf.StringVar(&a.natsPass, "nats-password", "", "NATS broker password [KANADE_NATS_PASSWORD] (prefer the env variable: argv is visible to other local users)")
	pf.StringVar(&a.natsCreds, "nats-creds", "", "NATS credentials file (operator.creds of a --nats-identity backend) [KANADE_NATS_CREDS]")
	pf.StringVar(&a.token, "token", "", "API bearer token [KANADE_AUTH_TOKEN] (default: the token stored by kanade login)")
	pf.StringVar(&a.contextName, "context", "", "use this CLI context of config.toml instead of the current one [KANADE_CONTEXT] (kanade config get-contexts)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table|wide|json|yaml|csv (wide: more columns where a list has them; csv: the JSON fields as columns, lists streamed page by page)")
	pf.DurationVar(&a.timeout, "request-timeout", 30*time.Second, "timeout of each HTTP request to the backend")

	root.AddCommand(
		a.runCmd(), a.pingCmd(), a.killCmd(), a.revokeCmd(true), a.revokeCmd(false),
		a.jobCmd(), a.execCmd(), a.executionsCmd(), a.scheduleCmd(), a.agentsCmd(), a.resultsCmd(),
		a.groupsCmd(), a.inventoryCmd(), a.checksCmd(), a.alertsCmd(), a.enrollTokenCmd(), a.operatorCredsCmd(), a.releaseCmd(), a.configCmd(), a.freezeCmd(), a.channelsCmd(), a.notificationsCmd(), a.jetstreamCmd(), a.loginCmd(), a.passwdCmd(), a.mfaCmd(), a.accountsCmd(), a.tokensCmd(),
		a.completionCmd(root), a.docsCmd(root), a.versionCmd(),
	)
	refuseUnknownSubcommands(root)
	a.completeIDsByName(root)
	wrapArgs(root)
	a.wrapErrors(root)
	return root
}

// wrapErrors turns the API client's errors returned by any command into
// one line that says what failed and what to do.
func (a *app) wrapErrors(c *cobra.Command) {
	if c.RunE != nil {
		inner := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error { return a.explain(inner(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		a.wrapErrors(sub)
	}
}

// refuseUnknownSubcommands makes every command group (`kanade agents`)
// runnable: alone it prints its help, but `kanade agents lst` is a usage
// error (exit 2) with cobra's suggestion, not help with exit status 0,
// which scripts would take for success.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.Runnable() || !c.HasSubCommands() || !c.HasParent() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return &usageError{errors.New(msg)}
	}
}

// suggestFlag adds the nearest flag's name to cobra's "unknown flag:
// --stauts" (cobra suggests commands, not flags).
func suggestFlag(c *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	name, _, _ = strings.Cut(name, "=")
	best, bestD := "", 3 // at most 2 edits away, or a prefix
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 2 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return err
	}
	return fmt.Errorf("%w; did you mean --%s?", err, best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// wrapArgs turns every command's argument-count error into a usage error.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// resolve applies flag > env > selected context > default to every global
// setting, and checks the output format.
func (a *app) resolve(cmd *cobra.Command) error {
	cfg, path, err := a.loadConfig()
	if err != nil {
		return err
	}
	name, c, err := a.selectContext(cmd, cfg, path)
	if err != nil {
		return err
	}
	a.ctxName, a.ctx, a.ctxToken = name, c, c.Token
	set := func(flag, name, fromCtx string, dst *string) {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			return
		}
		if v := a.opt.Getenv(name); v != "" {
			*dst = v
		} else if fromCtx != "" {
			*dst = fromCtx
		}
	}
	set("backend", "KANADE_BACKEND_URL", c.Server, &a.backend)
	set("nats-url", "KANADE_NATS_URL", c.NATSURL, &a.natsURL)
	set("nats-token", "KANADE_NATS_TOKEN", c.NATSToken, &a.natsToken)
	set("nats-user", "KANADE_NATS_USER", c.NATSUser, &a.natsUser)
	set("nats-password", "KANADE_NATS_PASSWORD", c.NATSPassword, &a.natsPass)
	set("nats-creds", "KANADE_NATS_CREDS", c.NATSCreds, &a.natsCreds)
	// The context's token stays apart (ctxToken): a.token is what the
	// caller gave (flag or env), which login, passwd and mfa must not
	// overwrite in the context.
	set("token", "KANADE_AUTH_TOKEN", "", &a.token)
	a.backend = strings.TrimRight(a.backend, "/")
	switch a.output {
	case "table", "wide", "json", "yaml", "csv":
	default:
		return usagef("-o %q: want table, wide, json, yaml or csv", a.output)
	}
	return nil
}

// flagChanged reports whether a flag was given on the command line.
func flagChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}

// api is the backend's API client with the global flags applied.
func (a *app) api() (*apiv1.Client, error) {
	if _, err := http.NewRequest(http.MethodGet, a.backend, nil); err != nil {
		return nil, usagef("bad backend URL %q: %v", a.backend, err)
	}
	return &apiv1.Client{Base: a.backend, Token: a.authToken(), UserAgent: "kanade-cli",
		HTTP: &http.Client{Timeout: a.timeout}}, nil
}

// apiError is an *apiv1.Error explained for an operator.
type apiError struct{ api *apiv1.Error }

func (e *apiError) Unwrap() error { return e.api }

func (e *apiError) Error() string {
	a := e.api
	what := a.Method + " " + a.Path
	msg := a.Message
	if msg == "" {
		msg = http.StatusText(a.Status)
	}
	switch {
	case a.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%s: not authenticated (%s); run `kanade login` or set KANADE_AUTH_TOKEN", what, msg)
	case a.Status == http.StatusForbidden && a.Message == "password change required":
		return fmt.Sprintf("%s: password change required; run `kanade passwd`", what)
	case a.Status == http.StatusForbidden:
		return fmt.Sprintf("%s: permission denied (%s); ask an admin for a role that allows it", what, msg)
	case a.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found: %s", what, msg)
	case a.Field != "":
		return fmt.Sprintf("%s: invalid %s: %s (HTTP %d)", what, a.Field, msg, a.Status)
	case a.Status >= 500:
		return fmt.Sprintf("%s: backend error (HTTP %d): %s; check the backend's log", what, a.Status, msg)
	default:
		return fmt.Sprintf("%s: %s (HTTP %d)", what, msg, a.Status)
	}
}

// explain rewrites an API answer or an unreachable backend as an
// operator-facing error; other errors pass unchanged.
func (a *app) explain(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*apiv1.Error); ok {
		return &apiError{e}
	}
	var te *apiv1.TransportError
	if errors.As(err, &te) && err == error(te) {
		backend := a.backend
		var ne net.Error
		var oe *net.OpError
		if errors.As(te.Err, &oe) || errors.Is(te.Err, context.DeadlineExceeded) || errors.As(te.Err, &ne) {
			return fmt.Errorf("cannot reach the backend at %s (%s %s: %v); is kanade-backend running? set --backend or KANADE_BACKEND_URL", backend, te.Method, te.Path, rootCause(te.Err))
		}
		return fmt.Errorf("%s %s%s: %w", te.Method, backend, te.Path, te.Err)
	}
	return err
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// connectNATS dials the broker once, without retries: the CLI should fail
// fast and say where it tried.
func (a *app) connectNATS() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("kanade-cli"), nats.Timeout(5 * time.Second), nats.MaxReconnects(0),
		nats.NoCallbacksAfterClientClose()}
	if a.natsToken != "" {
		opts = append(opts, nats.Token(a.natsToken))
	}
	if a.natsUser != "" {
		opts = append(opts, nats.UserInfo(a.natsUser, a.natsPass))
	}
	if a.natsCreds != "" {
		opts = append(opts, nats.UserCredentials(a.natsCreds))
	}
	nc, err := nats.Connect(a.natsURL, opts...)
	if err != nil {
		hint := "is the broker (kanade-backend) running? set --nats-url or KANADE_NATS_URL"
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			hint = "set --nats-creds/KANADE_NATS_CREDS to an operator.creds (--nats-identity backends), --nats-token/KANADE_NATS_TOKEN to the broker's token, or --nats-user/KANADE_NATS_USER and KANADE_NATS_PASSWORD to its operator credential"
		}
		return nil, fmt.Errorf("cannot connect to the NATS broker at %s (%v); %s", a.natsURL, err, hint)
	}
	return nc, nil
}

// subjectSafe rejects ids that would change a subject's meaning.
func subjectSafe(what, id string) error {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return usagef("%s %q must not be empty or contain '.', '*', '>' or spaces", what, id)
	}
	return nil
}

// defaultConfigDir is $XDG_CONFIG_HOME/kanade, else ~/.config/kanade
// (SPEC §17), on Windows os.UserConfigDir()/kanade.
func defaultConfigDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kanade"), nil
	}
	if runtime.GOOS == "windows" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "kanade"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", "kanade"), nil
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
			out := struct {
				Version        string             `json:"version"`
				Backend        string             `json:"backend"`
				BackendVersion *apiv1.VersionInfo `json:"backend_version"`
				BackendError   string             `json:"backend_error,omitempty"`
			}{Version: version.Version, Backend: a.backend}
			c, err := a.api()
			var v apiv1.VersionInfo
			if err == nil {
				v, err = c.Version(cmd.Context())
			}
			if err != nil {
				out.BackendError = oneLine(a.explain(err).Error())
			} else {
				out.BackendVersion = &v
			}
			return a.emitValue(out, func(w io.Writer) error {
				fmt.Fprintf(w, "kanade %s\n", version.Version)
				if err != nil {
					_, err := fmt.Fprintf(w, "backend %s: %s\n", a.backend, out.BackendError)
					return err
				}
				_, err := fmt.Fprintf(w, "backend %s: %s %s\n", a.backend, v.Version, v.Commit)
				return err
			})
		},
	}
}
