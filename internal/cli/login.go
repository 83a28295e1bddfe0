package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) loginCmd() *cobra.Command {
	var user, code string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to the backend and store the token for later commands",
		Long: `Prompt for a username and a password (not echoed), log in to the backend
(POST /api/auth/login) and store the token in the current CLI context of
config.toml (one token per context; context "default" for this backend when
there is none; mode 0600; see kanade config get-contexts). Later commands
send it unless --token or KANADE_AUTH_TOKEN is given. --password-stdin reads the password from stdin
for scripts. An account with MFA is asked for its code (a 6-digit TOTP code
or a recovery code) on a terminal, or takes it from --code.`,
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
			c, err := a.api()
			if err != nil {
				return err
			}
			lr, err := c.Login(cmd.Context(), apiv1.LoginRequest{Username: user, Password: pw})
			if err != nil {
				if ae, ok := err.(*apiv1.Error); ok && ae.Status == http.StatusUnauthorized {
					return fmt.Errorf("login as %s failed: %s; check the username and password", user, orDash(ae.Message))
				}
				return err
			}
			if lr.MFARequired {
				if lr, err = a.loginMFA(cmd, c, user, lr.MFAToken, code); err != nil {
					return err
				}
			}
			if lr.Token == "" {
				return fmt.Errorf("login: the backend sent no token")
			}
			path, err := a.storeToken(lr.Token)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("logged in to %s as %s (role %s); token stored in %s", a.backend, user, orDash(string(lr.Role)), path)
			if !lr.Exp.IsZero() {
				msg += "; it expires " + a.when(lr.Exp)
			}
			if lr.MustChangePW {
				msg += "\nthe backend requires a password change before anything else: run `kanade passwd`"
			} else if lr.MFAEnrolmentRequired {
				msg += "\nthe backend requires MFA before anything else: run `kanade mfa enroll`"
			}
			return a.emitValue(map[string]any{"username": user, "role": lr.Role, "exp": lr.Exp, "token_file": path,
				"must_change_pw": lr.MustChangePW, "mfa_enrolment_required": lr.MFAEnrolmentRequired}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, msg)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username (default: prompt)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (one line)")
	cmd.Flags().StringVar(&code, "code", "", "MFA code (TOTP or recovery code) for an account with MFA (default: prompt on a terminal)")
	return cmd
}

// authToken is --token / KANADE_AUTH_TOKEN, else the selected context's
// (stored by `kanade login`), else a token file of an older CLI that
// could not be moved into config.toml.
func (a *app) authToken() string {
	if a.token != "" {
		return a.token
	}
	if a.ctxToken != "" {
		return a.ctxToken
	}
	return a.legacyToken()
}
