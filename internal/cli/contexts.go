package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

// The CLI's own config file (SPEC §17): named contexts, each one backend
// with its token and broker settings, and the current one.
//
//	current-context = "prod"
//	[contexts.prod]
//	server = "https://kanade.example.com"
//	token = "..."
//	nats-url = "nats://kanade.example.com:4222"
//	nats-creds = "/home/me/.config/kanade/prod-operator.creds"
//	signing-key = "/home/me/.config/kanade/prod-signing.pem"
//
// Precedence of every setting: command-line flag > KANADE_* environment
// variable > the selected context (--context, KANADE_CONTEXT, else
// current-context) > built-in default.
const configFileName = "config.toml"

// cliConfig is config.toml.
type cliConfig struct {
	CurrentContext string                 `toml:"current-context,omitempty" json:"current_context"`
	Contexts       map[string]*cliContext `toml:"contexts,omitempty" json:"contexts"`
}

// cliContext is one backend. Empty fields fall back to the defaults.
type cliContext struct {
	Server       string `toml:"server,omitempty"`
	Token        string `toml:"token,omitempty"`
	NATSURL      string `toml:"nats-url,omitempty"`
	NATSToken    string `toml:"nats-token,omitempty"`
	NATSUser     string `toml:"nats-user,omitempty"`
	NATSPassword string `toml:"nats-password,omitempty"`
	NATSCreds    string `toml:"nats-creds,omitempty"`
	SigningKey   string `toml:"signing-key,omitempty"`
}

// defaultContext is the context `kanade login` creates (and a token of an
// older CLI moves into) when there is none.
const defaultContext = "default"

func (a *app) configPath() (string, error) {
	d, err := a.opt.ConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(d, configFileName), nil
}

// loadConfig reads config.toml (an absent file is an empty config). A
// token stored by an older CLI (kanade/token) moves into context
// "default" the first time, so `kanade login` need not be run again.
func (a *app) loadConfig() (*cliConfig, string, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, "", err
	}
	cfg := &cliConfig{Contexts: map[string]*cliContext{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if tok := a.legacyToken(); tok != "" {
			cfg.CurrentContext = defaultContext
			cfg.Contexts[defaultContext] = &cliContext{Token: tok}
			// The old file is removed only once the token is safe in the new
			// one; either failing is said, as a token left behind matters.
			if err := a.saveConfig(path, cfg); err != nil {
				fmt.Fprintf(a.opt.Err, "kanade: warning: the token of the old token file was not moved to %s: %v\n", path, err)
			} else {
				for _, p := range a.legacyTokenFiles() {
					if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
						fmt.Fprintf(a.opt.Err, "kanade: warning: remove the old token file %s: %v\n", p, err)
					}
				}
			}
		}
		return cfg, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 && !a.warnedMode {
		a.warnedMode = true
		fmt.Fprintf(a.opt.Err, "kanade: warning: %s holds tokens but is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
	}
	md, err := toml.Decode(string(b), cfg)
	if err != nil {
		return nil, path, fmt.Errorf("parse %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, path, fmt.Errorf("parse %s: unknown key %s (want current-context and [contexts.NAME] with server, token, nats-url, nats-token, nats-user, nats-password, nats-creds, signing-key)", path, und[0])
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]*cliContext{}
	}
	for name, c := range cfg.Contexts {
		if c == nil {
			cfg.Contexts[name] = &cliContext{}
		}
	}
	return cfg, path, nil
}

// saveConfig writes config.toml readable by the user only (it holds
// tokens), atomically.
func (a *app) saveConfig(path string, cfg *cliConfig) error {
	var buf bytes.Buffer
	buf.WriteString("# kanade CLI contexts (kanade config set-context / use-context); holds tokens: keep it 0600.\n")
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// legacyTokenFiles are where CLIs before contexts kept the login token.
func (a *app) legacyTokenFiles() []string {
	var out []string
	if d, err := a.opt.ConfigDir(); err == nil {
		out = append(out, filepath.Join(d, "token"))
	}
	if a.opt.defaultConfigDir {
		if d, err := os.UserConfigDir(); err == nil {
			if p := filepath.Join(d, "kanade", "token"); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func (a *app) legacyToken() string {
	for _, p := range a.legacyTokenFiles() {
		if b, err := os.ReadFile(p); err == nil {
			if t := strings.TrimSpace(string(b)); t != "" {
				return t
			}
		}
	}
	return ""
}

// selectContext picks the context of this invocation: --context, else
// KANADE_CONTEXT, else current-context. A name given explicitly must
// exist; a current-context naming nothing is reported too, except to
// the commands that manage contexts (they repair it).
func (a *app) selectContext(cmd *cobra.Command, cfg *cliConfig, path string) (string, *cliContext, error) {
	name, how := a.contextName, "--context"
	if !flagChanged(cmd.Flags(), "context") {
		name, how = a.opt.Getenv("KANADE_CONTEXT"), "KANADE_CONTEXT"
	}
	if name == "" {
		name, how = cfg.CurrentContext, "current-context"
	}
	if name == "" {
		return "", &cliContext{}, nil
	}
	c, ok := cfg.Contexts[name]
	if ok {
		return name, c, nil
	}
	if cmd.Annotations[annotManagesContexts] != "" {
		return name, &cliContext{}, nil
	}
	err := fmt.Errorf("%s %q: no such context in %s (known: %s); see kanade config get-contexts", how, name, path, orDash(strings.Join(contextNames(cfg), ", ")))
	if how == "--context" {
		return "", nil, &usageError{err}
	}
	return "", nil, err
}

const annotManagesContexts = "kanade/manages-contexts"

func contextNames(cfg *cliConfig) []string {
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// storeToken keeps a token from login, passwd or mfa confirm in the
// selected context (one token per context), creating context "default"
// for this backend when there is none. It returns where it went.
func (a *app) storeToken(tok string) (string, error) {
	cfg, path, err := a.loadConfig()
	if err != nil {
		return "", err
	}
	name := a.ctxName
	if name == "" {
		name = defaultContext
		if cfg.CurrentContext == "" {
			cfg.CurrentContext = name
		}
	}
	c := cfg.Contexts[name]
	if c == nil {
		c = &cliContext{}
		cfg.Contexts[name] = c
	}
	// One token per context: a token of another backend (--backend or
	// KANADE_BACKEND_URL over the context's server) does not belong here.
	if c.Server != "" && c.Server != a.backend {
		return "", fmt.Errorf("the token is for %s but context %s is %s: give --context for that backend (kanade config set-context NAME --server %s)",
			a.backend, name, c.Server, a.backend)
	}
	if c.Server == "" && a.backend != DefaultBackend {
		c.Server = a.backend
	}
	c.Token = tok
	if err := a.saveConfig(path, cfg); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	a.ctxToken = tok
	return fmt.Sprintf("context %s of %s", name, path), nil
}

// contextRow is one line of `kanade config get-contexts` (never the
// secrets themselves).
type contextRow struct {
	Name       string `json:"name"`
	Current    bool   `json:"current"`
	Server     string `json:"server"`
	NATSURL    string `json:"nats_url"`
	NATSCreds  string `json:"nats_creds"`
	SigningKey string `json:"signing_key"`
	HasToken   bool   `json:"has_token"`
}

// contextCmds are the context subcommands of `kanade config` (kubectl's
// names; the agent-config subcommands get/set/unset/clear/effective do
// not collide).
func (a *app) contextCmds() []*cobra.Command {
	manage := map[string]string{annotManagesContexts: "1"}
	var server, signingKey string
	set := &cobra.Command{
		Use:   "set-context NAME [--server URL] [--token T] [--nats-url U] [--nats-creds F] [--signing-key F]",
		Short: "Create or change a CLI context (a backend with its token and broker settings)",
		Long: `Create the context NAME or change the settings given (others are kept). The
backend is --server (or --backend); --token, --nats-url, --nats-token,
--nats-user, --nats-password, --nats-creds and --signing-key store those
settings in it. The first context becomes the current one. Contexts live in
` + "`$XDG_CONFIG_HOME/kanade/config.toml`" + ` (default ~/.config/kanade/config.toml), mode 0600.`,
		Example:     "  kanade config set-context prod --server https://kanade.example.com\n  kanade config use-context prod && kanade login",
		Args:        cobra.ExactArgs(1),
		Annotations: manage,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t\r\n\"") {
				return usagef("context name %q: want a name without spaces or quotes", name)
			}
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			c := cfg.Contexts[name]
			created := c == nil
			if created {
				c = &cliContext{}
				cfg.Contexts[name] = c
			}
			fs := cmd.Flags()
			if flagChanged(fs, "server") {
				c.Server = strings.TrimRight(server, "/")
			} else if flagChanged(fs, "backend") {
				c.Server = a.backend
			}
			for _, s := range []struct {
				flag string
				dst  *string
				val  string
			}{{"token", &c.Token, a.token}, {"nats-url", &c.NATSURL, a.natsURL}, {"nats-token", &c.NATSToken, a.natsToken},
				{"nats-user", &c.NATSUser, a.natsUser}, {"nats-password", &c.NATSPassword, a.natsPass},
				{"nats-creds", &c.NATSCreds, a.natsCreds}, {"signing-key", &c.SigningKey, signingKey}} {
				if flagChanged(fs, s.flag) {
					*s.dst = s.val
				}
			}
			if cfg.CurrentContext == "" {
				cfg.CurrentContext = name
			}
			if err := a.saveConfig(path, cfg); err != nil {
				return err
			}
			verb := "changed"
			if created {
				verb = "created"
			}
			return a.emitValue(map[string]string{"context": name, "file": path}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "context %s %s in %s\n", name, verb, path)
				return err
			})
		},
	}
	set.Flags().StringVar(&server, "server", "", "the backend's HTTP API URL")
	set.Flags().StringVar(&signingKey, "signing-key", "", "PKCS#8 PEM Ed25519 key for run and kill straight to the broker")
	use := &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make NAME the current CLI context",
		Args:              cobra.ExactArgs(1),
		Annotations:       manage,
		ValidArgsFunction: a.completeContexts,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Contexts[args[0]] == nil {
				return fmt.Errorf("no context %q in %s (known: %s); create it with kanade config set-context %s --server URL",
					args[0], path, orDash(strings.Join(contextNames(cfg), ", ")), args[0])
			}
			cfg.CurrentContext = args[0]
			if err := a.saveConfig(path, cfg); err != nil {
				return err
			}
			return a.emitValue(map[string]string{"current_context": args[0]}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "switched to context %s\n", args[0])
				return err
			})
		},
	}
	current := &cobra.Command{
		Use:         "current-context",
		Short:       "Print the current CLI context",
		Args:        cobra.NoArgs,
		Annotations: manage,
		RunE: func(*cobra.Command, []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return fmt.Errorf("no current context in %s; see kanade config use-context", path)
			}
			return a.emitValue(map[string]string{"current_context": cfg.CurrentContext}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, cfg.CurrentContext)
				return err
			})
		},
	}
	get := &cobra.Command{
		Use:         "get-contexts",
		Short:       "List the CLI contexts (tokens are never printed)",
		Args:        cobra.NoArgs,
		Annotations: manage,
		RunE: func(*cobra.Command, []string) error {
			cfg, _, err := a.loadConfig()
			if err != nil {
				return err
			}
			rows := []contextRow{}
			for _, n := range contextNames(cfg) {
				c := cfg.Contexts[n]
				rows = append(rows, contextRow{Name: n, Current: n == cfg.CurrentContext, Server: c.Server, NATSURL: c.NATSURL,
					NATSCreds: c.NATSCreds, SigningKey: c.SigningKey, HasToken: c.Token != ""})
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "CURRENT", "NAME", "SERVER", "NATS_URL", "TOKEN")
				for _, r := range rows {
					cur, tok := "", "-"
					if r.Current {
						cur = "*"
					}
					if r.HasToken {
						tok = "stored"
					}
					t.row(cur, r.Name, r.Server, r.NATSURL, tok)
				}
				return t.flush()
			})
		},
	}
	del := &cobra.Command{
		Use:               "delete-context NAME",
		Short:             "Delete a CLI context and its token",
		Args:              cobra.ExactArgs(1),
		Annotations:       manage,
		ValidArgsFunction: a.completeContexts,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Contexts[args[0]] == nil {
				return fmt.Errorf("no context %q in %s (known: %s)", args[0], path, orDash(strings.Join(contextNames(cfg), ", ")))
			}
			delete(cfg.Contexts, args[0])
			msg := "deleted context " + args[0]
			if cfg.CurrentContext == args[0] {
				cfg.CurrentContext = ""
				msg += "; there is no current context now (kanade config use-context NAME)"
			}
			if err := a.saveConfig(path, cfg); err != nil {
				return err
			}
			return a.emitValue(map[string]string{"deleted": args[0]}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, msg)
				return err
			})
		},
	}
	return []*cobra.Command{set, use, current, get, del}
}

// completeContexts completes context names from config.toml.
func (a *app) completeContexts(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return contextNames(cfg), cobra.ShellCompDirectiveNoFileComp
}
