package cli

import (
	"context"
	"encoding/json"
	"reflect"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/csvout"
	"github.com/spf13/cobra"
)

// pagingFlags registers a list command's --limit (default def; 0 = all)
// and --all, and returns what to call in RunE for the row bound to pass to
// apiv1.All, which walks the list page by page by cursor (X-Next-Cursor),
// so any depth costs the server the same per page.
func pagingFlags(cmd *cobra.Command, def int) func() (int, error) {
	var limit int
	var all bool
	f := cmd.Flags()
	f.IntVar(&limit, "limit", def, "at most this many (0 = all)")
	f.BoolVar(&all, "all", false, "every row: walk all pages by cursor (same as --limit 0)")
	return func() (int, error) {
		switch {
		case all && f.Changed("limit") && limit != 0:
			return 0, usagef("--all and --limit %d exclude each other", limit)
		case all:
			return 0, nil
		case limit < 0:
			return 0, usagef("--limit %d: want 0 (all) or more", limit)
		}
		return limit, nil
	}
}

// subcommand returns cmd's subcommand name (a list command declared
// inline in AddCommand, to register its paging flags).
func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	panic("no subcommand " + name + " of " + cmd.Name())
}

// listAll is the body every list command shares: bound the rows by
// --limit/--all, then walk the pages fetch returns, cursor by cursor.
// With -o csv each page is written as it arrives (nothing is held) and
// the rows returned are none: emit then prints nothing more.
func listAll[T any](ctx context.Context, a *app, bound func() (int, error),
	fetch func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[T], error)) ([]T, error) {
	limit, err := bound()
	if err != nil {
		return nil, err
	}
	c, err := a.api()
	if err != nil {
		return nil, err
	}
	page := func(ctx context.Context, p apiv1.Page) (apiv1.List[T], error) { return fetch(ctx, c, p) }
	if a.output == "csv" {
		w := csvout.NewWriter(a.opt.Out, csvout.Columns(reflect.TypeFor[T]()))
		a.streamed = true
		err := apiv1.Walk(ctx, limit, page, func(l apiv1.List[T]) error {
			raw, err := json.Marshal(l.Items)
			if err == nil {
				_, err = w.WritePage(raw, -1)
			}
			return err
		})
		if err == nil && w.Rows == 0 {
			_, err = w.WriteRows(nil, -1) // the header of an empty list
		}
		return nil, err
	}
	rows, _, err := apiv1.All(ctx, limit, page)
	return rows, err
}
