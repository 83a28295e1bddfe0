package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// readSecret reads one password: a line of stdin with --password-stdin,
// else prompted without echo (twice when confirm, which must match).
func (a *app) readSecret(prompt string, stdin, confirm bool) (string, error) {
	if stdin {
		s, err := readLine(a.opt.In)
		return strings.TrimRight(s, "\r\n"), err
	}
	fmt.Fprint(a.opt.Err, prompt+": ")
	s, err := a.opt.ReadPassword(a.opt.In)
	fmt.Fprintln(a.opt.Err)
	if err != nil || !confirm {
		return s, err
	}
	fmt.Fprint(a.opt.Err, "Repeat: ")
	again, err := a.opt.ReadPassword(a.opt.In)
	fmt.Fprintln(a.opt.Err)
	if err != nil {
		return "", err
	}
	if again != s {
		return "", usagef("the passwords differ")
	}
	return s, nil
}

// accountsCmd manages accounts (SPEC §16, admin).
func (a *app) accountsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "accounts", Aliases: []string{"account"}, Short: "List, create, disable, enable, delete accounts and reset passwords (admin)"}
	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts with their last login",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Account], error) {
				return c.ListAccounts(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "USERNAME", "ROLE", "DISABLED", "MUST_CHANGE_PW", "LAST_LOGIN", "LOCKED_UNTIL", "CREATED_AT", "GROUPS")
				for _, r := range rows {
					t.row(r.Username, string(r.Role), strconv.FormatBool(r.Disabled), strconv.FormatBool(r.MustChangePW),
						orDash(a.whenPtr(r.LastLoginAt)), orDash(a.whenPtr(r.LockedUntil)), a.when(r.CreatedAt), scopeText(r.Groups))
				}
				return t.flush()
			})
		},
	}
	bound = pagingFlags(list, 0)

	var role string
	var pwStdin bool
	var groups []string
	create := &cobra.Command{
		Use:   "create <username>",
		Short: "Create an account; it must change the password at first login",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readSecret("Password for "+args[0], pwStdin, true)
			if err != nil {
				return err
			}
			r := apiv1.Role(role)
			return a.simple(func(c *apiv1.Client) (any, error) {
				return c.CreateAccount(cmd.Context(), apiv1.CreateAccountRequest{Username: args[0], Password: pw, Role: &r, Groups: groups})
			}, fmt.Sprintf("created account %s (role %s%s); it must change its password at first login", args[0], role, scopeNote(groups)))
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	create.Flags().StringSliceVar(&groups, "groups", nil, "limit the account to these PC groups (comma-separated; default: not limited)")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin (one line)")

	setDisabled := func(use, short string, disabled bool, done string) *cobra.Command {
		return &cobra.Command{
			Use: use + " <username>", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.simple(func(c *apiv1.Client) (any, error) {
					return c.UpdateAccount(cmd.Context(), args[0], apiv1.UpdateAccountRequest{Disabled: &disabled})
				}, done+" account "+args[0])
			},
		}
	}
	del := &cobra.Command{
		Use:   "delete <username>",
		Short: "Delete an account (its tokens die with it; a new account of the same name does not revive them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.DeleteAccount(cmd.Context(), args[0])
			}, "deleted account "+args[0])
		},
	}
	var resetStdin bool
	reset := &cobra.Command{
		Use:   "reset-password <username>",
		Short: "Set a new password; the account must change it at its next login (its sessions end)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readSecret("New password for "+args[0], resetStdin, true)
			if err != nil {
				return err
			}
			must := true
			return a.simple(func(c *apiv1.Client) (any, error) {
				return c.UpdateAccount(cmd.Context(), args[0], apiv1.UpdateAccountRequest{Password: &pw, MustChangePW: &must})
			}, "reset the password of "+args[0]+"; it must change it at its next login")
		},
	}
	reset.Flags().BoolVar(&resetStdin, "password-stdin", false, "read the new password from stdin (one line)")
	cmd.AddCommand(list, create, setDisabled("disable", "Disable an account (refused at once, streams close)", true, "disabled"),
		setDisabled("enable", "Enable a disabled account", false, "enabled"), del, reset, a.resetMFACmd())
	cmd.AddCommand(a.accountsUpdateCmd())
	return cmd
}

// accountsUpdateCmd changes an account's role or group scope.
func (a *app) accountsUpdateCmd() *cobra.Command {
	var role string
	var groups []string
	cmd := &cobra.Command{
		Use:   "update <username>",
		Short: "Change an account's role or group scope",
		Long: `Change an account's role (--role) or the PC groups it is limited to (--groups a,b;
--groups "" removes the limit). A scoped account execs and reads only on PCs of its
groups and cannot change fleet-wide settings (docs/security.md, "Scopes"). Group
names are not checked against existing groups: a group exists once a PC is in it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req apiv1.UpdateAccountRequest
			if cmd.Flags().Changed("role") {
				r := apiv1.Role(role)
				req.Role = &r
			}
			if cmd.Flags().Changed("groups") {
				g := slices.DeleteFunc(slices.Clone(groups), func(s string) bool { return s == "" })
				if g == nil {
					g = []string{}
				}
				req.Groups = &g
			}
			if req.Role == nil && req.Groups == nil {
				return usagef("nothing to change: give --role or --groups")
			}
			return a.simple(func(c *apiv1.Client) (any, error) {
				return c.UpdateAccount(cmd.Context(), args[0], req)
			}, "updated account "+args[0])
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "viewer, operator or admin")
	cmd.Flags().StringSliceVar(&groups, "groups", nil, `limit the account to these PC groups (comma-separated; "" = not limited)`)
	return cmd
}

// scopeText shows a group scope in a table ("-" = not limited).
func scopeText(groups []string) string {
	if len(groups) == 0 {
		return "-"
	}
	return strings.Join(groups, ",")
}

func scopeNote(groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return ", groups " + strings.Join(groups, ",")
}

// passwdCmd changes the logged-in account's password and stores the fresh
// token (the old ones stop working).
func (a *app) passwdCmd() *cobra.Command {
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change your password (required after the first login or an admin reset)",
		Long: `Change the password of the account you are logged in as (POST /api/auth/password).
Prompts for the current and the new password without echo; with --password-stdin
reads two lines from stdin: the current password, then the new one. The fresh token
is stored like kanade login's (earlier tokens of the account stop working).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			old, err := a.readSecret("Current password", pwStdin, false)
			if err != nil {
				return fmt.Errorf("read password: %w", err)
			}
			nw, err := a.readSecret("New password", pwStdin, true)
			if err != nil {
				return fmt.Errorf("read password: %w", err)
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			lr, err := c.ChangeOwnPassword(cmd.Context(), apiv1.ChangePasswordRequest{OldPassword: old, NewPassword: nw})
			if err != nil {
				return err
			}
			stored := ""
			if a.token == "" { // logged in with kanade login: keep it so
				where, err := a.storeToken(lr.Token)
				if err != nil {
					return err
				}
				stored = "; new token stored in " + where
			}
			return a.emitValue(map[string]any{"username": lr.Username, "role": lr.Role, "exp": lr.Exp}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "password of %s changed%s\n", lr.Username, stored)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the current and the new password from stdin (two lines)")
	return cmd
}

// tokensCmd manages API tokens for automation (SPEC §16).
func (a *app) tokensCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Aliases: []string{"token"}, Short: "Create, list and revoke API tokens for automation"}
	var role string
	var expiresIn time.Duration
	var groups []string
	create := &cobra.Command{
		Use:   "create <name>",
		Short: "Create an API token (printed once; use it as KANADE_AUTH_TOKEN)",
		Long: `Create an API token bound to your account, with a role up to yours. The token is
printed once; scripts send it as "Authorization: Bearer kt_..." or the CLI as
KANADE_AUTH_TOKEN. Its actions are audited as token:<name>. It dies when revoked,
at --expires-in, or when your account is deleted; it is refused while your account is disabled.
With --groups it is limited to those PC groups; an account that is itself limited must
give a non-empty subset of its own groups.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := apiv1.CreateAPITokenRequest{Name: args[0], Role: apiv1.Role(role), Groups: groups}
			if expiresIn < 0 {
				return usagef("--expires-in must not be negative")
			}
			if expiresIn > 0 {
				req.ExpiresIn = expiresIn.String()
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			t, err := c.CreateAPIToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.emitValue(t, func(w io.Writer) error {
				return kv(w, "id", t.ID, "name", t.Name, "role", string(t.Role), "groups", scopeText(t.Groups),
					"expires_at", orDash(a.whenPtr(t.ExpiresAt)), "token", t.Token)
			})
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin (at most yours)")
	create.Flags().DurationVar(&expiresIn, "expires-in", 0, "lifetime, e.g. 720h (default: no expiry)")
	create.Flags().StringSliceVar(&groups, "groups", nil, "limit the token to these PC groups (comma-separated)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (yours; an admin sees all), never their secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			rows, err := c.ListAPITokens(cmd.Context())
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "ID", "NAME", "ROLE", "CREATED_BY", "CREATED_AT", "EXPIRES_AT", "LAST_USED", "EXPIRED", "GROUPS")
				for _, r := range rows {
					t.row(r.ID, r.Name, string(r.Role), r.CreatedBy, a.when(r.CreatedAt), orDash(a.whenPtr(r.ExpiresAt)),
						orDash(a.whenPtr(r.LastUsedAt)), strconv.FormatBool(r.Expired), scopeText(r.Groups))
				}
				return t.flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke <id>",
		Short: "Revoke an API token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.RevokeAPIToken(cmd.Context(), args[0])
			}, "revoked API token "+args[0])
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
