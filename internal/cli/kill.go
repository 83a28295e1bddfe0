package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/fanout/command"
	"github.com/kanade-fleet/kanade/internal/sign"
)

func (a *app) killCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kill <exec_id>",
		Short: "Terminate an execution's running processes on every agent (kill.<exec_id>)",
		Long: `Send kill.<exec_id>: every agent running that execution terminates its process
tree, and the run reports killed with exit code -1. Agents obey only kills
signed by a key they trust, so:

  - without --signing-key the backend sends it
    (POST /api/executions/{exec_id}/kill, operator role, audited with your
    account);
  - with --signing-key FILE [KANADE_SIGNING_KEY] the CLI signs it and publishes
    it straight to the NATS broker, so it works while the backend is down; the
    backend audits it when it sees it, as signing-key:<key_id>.

An exec_id the backend does not know is an error (exit status 1), and a
unique prefix of one will do. With --signing-key the CLI asks the backend
when it can; when the backend is unreachable the kill is sent as given and
the CLI says it could not verify the id.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := subjectSafe("exec_id", id); err != nil {
				return err
			}
			note := ""
			done := func() error {
				return a.emitValue(map[string]string{"exec_id": id, "subject": bus.Kill(id)}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "kill sent for execution %s (%s)%s\n", id, bus.Kill(id), note)
					return err
				})
			}
			keyFile := a.signingKeyFile(cmd)
			if keyFile == "" {
				c, err := a.api()
				if err != nil {
					return err
				}
				if id, err = resolveExecID(cmd.Context(), c, id); err != nil {
					return err
				}
				if _, err := c.KillExecution(cmd.Context(), id); err != nil {
					return notFound(err, "execution", id)
				}
				return done()
			}
			// Straight to the broker: the backend, when it answers, says
			// whether the id is known (and completes a prefix); when it
			// does not, the kill goes out as given, unverified.
			if c, err := a.api(); err == nil {
				full, err := resolveExecID(cmd.Context(), c, id)
				var nf *notFoundError
				var amb *ambiguousError
				switch {
				case err == nil:
					id = full
				case errors.As(err, &nf), errors.As(err, &amb):
					return err
				default:
					note = "; sent, cannot verify the exec_id (backend: " + oneLine(a.explain(err).Error()) + ")"
				}
			}
			signer, err := sign.LoadKey(keyFile)
			if err != nil {
				return fmt.Errorf("--signing-key: %w", err)
			}
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := command.Kill(nc, signer, id, command.KillFromCLI); err != nil {
				return err
			}
			return done()
		},
	}
	addSigningKeyFlag(cmd.Flags())
	return cmd
}

// addSigningKeyFlag adds --signing-key to run and kill.
func addSigningKeyFlag(f *pflag.FlagSet) {
	f.String("signing-key", "", "sign with this PKCS#8 PEM Ed25519 key and publish straight to the broker [KANADE_SIGNING_KEY] (default: go through the backend API)")
}

// signingKeyFile is --signing-key, else KANADE_SIGNING_KEY, else the
// context's signing-key.
func (a *app) signingKeyFile(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("signing-key"); f != nil && f.Changed {
		return f.Value.String()
	}
	if v := a.opt.Getenv("KANADE_SIGNING_KEY"); v != "" {
		return v
	}
	if a.ctx != nil {
		return a.ctx.SigningKey
	}
	return ""
}
