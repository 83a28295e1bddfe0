package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

func (a *app) loginCmd() *cobra.Command {
	var user, code string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to the backend and store the token for later commands",
		Long: `Prompt for a username and a password (not echoed), log in to the backend
(POST /api/auth/login) and store the token in the user's config directory
(kanade/token, mode 0600). Later commands send it unless --token or
KANADE_AUTH_TOKEN is given. --password-stdin reads the password from stdin
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
			path, err := a.tokenPath()
			if err != nil {
				return err
			}
			if err := writeSecret(path, lr.Token); err != nil {
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

// authToken is --token / KANADE_AUTH_TOKEN, else the one `kanade login` stored.
func (a *app) authToken() string {
	if a.token != "" {
		return a.token
	}
	p, err := a.tokenPath()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a *app) tokenPath() (string, error) {
	d, err := a.opt.ConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(d, "token"), nil
}

// writeSecret writes a file readable by the user only, replacing it
// atomically so a crash never leaves half a token.
func writeSecret(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}
