package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// loginMFA is the second login step (POST /api/auth/mfa): the code from
// --code, else prompted on a terminal.
func (a *app) loginMFA(cmd *cobra.Command, c *apiv1.Client, user, mfaToken, code string) (apiv1.LoginResponse, error) {
	if code == "" {
		if !a.opt.IsTerminal(a.opt.In) {
			return apiv1.LoginResponse{}, usagef("%s has MFA: pass its code with --code (a TOTP or recovery code)", user)
		}
		fmt.Fprint(a.opt.Err, "MFA code: ")
		s, err := readLine(a.opt.In)
		if err != nil {
			return apiv1.LoginResponse{}, fmt.Errorf("read code: %w", err)
		}
		code = strings.TrimSpace(s)
	}
	lr, err := c.LoginMFA(cmd.Context(), apiv1.MFALoginRequest{MFAToken: mfaToken, Code: code})
	if ae, ok := err.(*apiv1.Error); ok && ae.Status == http.StatusUnauthorized {
		return lr, fmt.Errorf("login as %s failed: %s", user, orDash(ae.Message))
	}
	return lr, err
}

// mfaCmd manages the caller's MFA and the MFA policy (SPEC §16).
func (a *app) mfaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "mfa", Short: "Enrol in, confirm or disable MFA (TOTP), and show or set the MFA policy"}
	enroll := &cobra.Command{
		Use:   "enroll",
		Short: "Begin MFA enrolment: prints the TOTP secret, its otpauth:// URL and the recovery codes (once)",
		Long: `Begin MFA enrolment for the account you are logged in as (POST /api/auth/mfa/enroll).
Add the otpauth:// URL (or the secret) to an authenticator app, keep the recovery codes
somewhere safe (each works once), then run kanade mfa confirm <code>. Enrolling again
before confirming replaces the pending secret and codes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			en, err := c.EnrollMFA(cmd.Context())
			if err != nil {
				return err
			}
			return a.emitValue(en, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "secret:      %s\notpauth url: %s\nrecovery codes (each works once; store them safely):\n  %s\nnow run: kanade mfa confirm <code from your app>\n",
					en.Secret, en.OTPAuthURL, strings.Join(en.RecoveryCodes, "\n  "))
				return err
			})
		},
	}
	confirm := &cobra.Command{
		Use:   "confirm <code>",
		Short: "Turn MFA on with a code from the authenticator app (your other sessions end)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			res, err := c.ConfirmMFA(cmd.Context(), apiv1.MFACodeRequest{Code: args[0]})
			if err != nil {
				return err
			}
			stored := ""
			if a.token == "" && res.Session.Token != "" { // logged in with kanade login: keep it so
				where, err := a.storeToken(res.Session.Token)
				if err != nil {
					return err
				}
				stored = "; new token stored in " + where
			}
			return a.emitValue(map[string]any{"mfa_enabled": res.MFAEnabled, "username": res.Session.Username}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "MFA enabled for %s%s\n", res.Session.Username, stored)
				return err
			})
		},
	}
	disable := &cobra.Command{
		Use:   "disable <code>",
		Short: "Turn your MFA off with a TOTP or recovery code (refused when the policy requires MFA)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.DisableMFA(cmd.Context(), apiv1.MFACodeRequest{Code: args[0]})
			}, "MFA disabled")
		},
	}
	var requireAll bool
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Show the MFA policy, or set it with --require-all=true|false (admin)",
		Long: `Without flags, show whether MFA is required for every account (GET /api/auth/mfa/policy).
With --require-all=true every account without MFA can only enrol (and change its password)
until it has; API tokens are not subject to it. Setting it needs an admin and is audited.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			var p apiv1.MFAPolicy
			if cmd.Flags().Changed("require-all") {
				p, err = c.PutMFAPolicy(cmd.Context(), apiv1.MFAPolicy{RequireAll: requireAll})
			} else {
				p, err = c.GetMFAPolicy(cmd.Context())
			}
			if err != nil {
				return err
			}
			return a.emitValue(p, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "require_all: %t\n", p.RequireAll)
				return err
			})
		},
	}
	policy.Flags().BoolVar(&requireAll, "require-all", false, "require MFA for every account (admin)")
	cmd.AddCommand(enroll, confirm, disable, policy)
	return cmd
}

// resetMFACmd is `kanade accounts reset-mfa NAME` (admin).
func (a *app) resetMFACmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-mfa <username>",
		Short: "Remove an account's MFA (lost device) and end its sessions; under the policy it must enrol again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.ResetAccountMFA(cmd.Context(), args[0])
			}, "reset the MFA of "+args[0])
		},
	}
}
