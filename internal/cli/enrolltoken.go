package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// enrollTokenCmd manages enrollment tokens (SPEC §12): an operator creates
// one, hands it to the PC, and `kanade-agent enroll --token` uses it.
func (a *app) enrollTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "enroll-token", Aliases: []string{"enroll-tokens"}, Short: "Create, list and delete agent enrollment tokens"}
	var groups []string
	var uses int
	var expiresIn time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an enrollment token (the secret is printed once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if uses < 1 {
				return usagef("--uses must be at least 1")
			}
			if expiresIn <= 0 {
				return usagef("--expires-in must be positive")
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			t, err := c.CreateEnrollmentToken(cmd.Context(), apiv1.CreateEnrollmentTokenRequest{Groups: groups, Uses: uses,
				ExpiresIn: expiresIn.String()})
			if err != nil {
				return err
			}
			return a.emitValue(t, func(w io.Writer) error {
				if err := kv(w, "id", t.ID, "token", t.Token, "expires_at", a.when(t.ExpiresAt)); err != nil {
					return err
				}
				_, err := fmt.Fprintf(w, "\nOn the PC: kanade-agent enroll --server <backend URL> --token %s\n", t.Token)
				return err
			})
		},
	}
	f := create.Flags()
	f.StringSliceVar(&groups, "group", nil, "put the enrolled PC in this group (repeatable)")
	f.IntVar(&uses, "uses", 1, "how many PCs may enroll with it")
	f.DurationVar(&expiresIn, "expires-in", 24*time.Hour, "how long it stays valid")

	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List enrollment tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.EnrollmentToken], error) {
				return c.ListEnrollmentTokens(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "ID", "GROUPS", "USES_LEFT", "USES", "EXPIRES_AT", "USABLE", "CREATED_BY", "CREATED_AT")
				for _, r := range rows {
					t.row(r.ID, strings.Join(r.Groups, ","), strconv.Itoa(r.UsesLeft), strconv.Itoa(r.Uses), a.when(r.ExpiresAt),
						strconv.FormatBool(r.Usable), r.CreatedBy, a.when(r.CreatedAt))
				}
				return t.flush()
			})
		},
	}
	bound = pagingFlags(list, 0)
	del := &cobra.Command{
		Use:   "delete <id>",
		Short: "Delete an enrollment token (PCs enrolled with it stay enrolled)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.DeleteEnrollmentToken(cmd.Context(), args[0])
			}, "deleted enrollment token "+args[0])
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
