package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

// operatorCredsCmd manages the operator broker credentials of the CLI's
// direct path (SPEC §12): issue one per operator, list them, revoke one.
func (a *app) operatorCredsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator-creds", Short: "Issue, list and revoke operator broker credentials (admin; --nats-identity backends)"}
	var out string
	create := &cobra.Command{
		Use:   "create <name>",
		Short: "Issue an operator broker credential and write it to a file (0600) for --nats-creds",
		Long: `Issue an operator broker credential (a NATS user JWT and its seed) for
the CLI's direct path (kanade run/kill --nats-creds). It is shown once:
--file writes it with mode 0600; without it, only -o json prints it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Checked before issuing: a credential nobody kept is only
			// something more to revoke.
			if out == "" && a.output != "json" && a.output != "yaml" {
				return usagef("--file FILE keeps the credential (or -o json prints it)")
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			oc, err := c.CreateOperatorCreds(cmd.Context(), apiv1.OperatorCredsRequest{Name: args[0]})
			if err != nil {
				return err
			}
			if out == "" {
				return a.emitValue(oc, nil)
			}
			if err := atomicfile.WriteFile(out, []byte(oc.Creds), 0o600); err != nil {
				return fmt.Errorf("write %s: %w (the credential %s was issued: revoke it)", out, err, oc.PublicKey)
			}
			return a.emitValue(map[string]string{"name": oc.Name, "public_key": oc.PublicKey, "file": out}, func(w io.Writer) error {
				return kv(w, "name", oc.Name, "public_key", oc.PublicKey, "file", out)
			})
		},
	}
	create.Flags().StringVar(&out, "file", "", "write the credential to this file (mode 0600)")

	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the operator broker credentials issued (never their seeds)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.OperatorCredInfo], error) {
				return c.ListOperatorCreds(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "NAME", "PUBLIC_KEY", "CREATED_BY", "CREATED_AT", "REVOKED_AT")
				for _, r := range rows {
					revoked := "-"
					if r.RevokedAt != nil {
						revoked = a.when(*r.RevokedAt)
					}
					t.row(r.Name, r.PublicKey, r.CreatedBy, a.when(r.CreatedAt), revoked)
				}
				return t.flush()
			})
		},
	}
	bound = pagingFlags(list, 0)
	revoke := &cobra.Command{
		Use:   "revoke <public key>",
		Short: "Revoke one operator broker credential: the broker closes its connections and refuses it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return c.RevokeOperatorCreds(cmd.Context(), args[0])
			}, "revoked operator credential "+args[0])
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
