package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// Ids on the command line may be abbreviated like git's: a unique prefix
// of an exec_id, result_id, job id or pc_id names that one. An exact id
// always wins; a prefix shared by several is an error listing them; one
// nothing starts with is "no execution abc123" (exit status 1).

// maxCandidates bounds the list of an ambiguous prefix.
const maxCandidates = 10

// notFoundError is an id the backend does not know.
type notFoundError struct{ what, id string }

func (e *notFoundError) Error() string { return fmt.Sprintf("no %s %s", e.what, e.id) }

// ambiguousError is a prefix several ids share.
type ambiguousError struct {
	what, prefix string
	ids          []string
	more         bool
}

func (e *ambiguousError) Error() string {
	more := ""
	if e.more {
		more = ", …"
	}
	return fmt.Sprintf("%s prefix %s is ambiguous: %s%s; give more characters", e.what, e.prefix, strings.Join(e.ids, ", "), more)
}

// notFound turns the API's 404 for one id into "no <what> <id>"; other
// errors pass unchanged. (A 404 of a route the backend lacks stays as it
// is: that is not the id's fault.)
func notFound(err error, what, id string) error {
	var ae *apiv1.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Message != "no such API route" {
		return &notFoundError{what, id}
	}
	return err
}

// pick chooses the id arg names among the ids starting with it.
func pick(what, arg string, ids []string, more bool) (string, error) {
	for _, id := range ids {
		if id == arg {
			return id, nil
		}
	}
	switch {
	case len(ids) == 0:
		return "", &notFoundError{what, arg}
	case len(ids) == 1 && !more:
		return ids[0], nil
	}
	sort.Strings(ids)
	return "", &ambiguousError{what, arg, ids, more}
}

// idPrefixOK: only subject-safe ids can be prefixes (id_prefix= refuses
// others); anything else is looked up as given.
func idPrefixOK(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// resolveExecID returns the exec_id arg names: itself when an execution
// has it, else the one execution whose exec_id starts with it. A direct
// `kanade run` (no execution row) is known by its results. Every command
// taking an exec_id should call it (executions show, kill; rollouts'
// pause/resume/cancel).
func resolveExecID(ctx context.Context, c *apiv1.Client, arg string) (string, error) {
	if !idPrefixOK(arg) {
		return arg, nil
	}
	l, err := c.ListExecutions(ctx, apiv1.ExecutionQuery{IDPrefix: arg, Page: apiv1.Page{Limit: maxCandidates + 1}})
	if err != nil {
		return "", err
	}
	ids := make([]string, 0, len(l.Items))
	for _, e := range l.Items {
		ids = append(ids, e.ExecID)
	}
	id, err := pickPage("execution", arg, ids)
	var nf *notFoundError
	if errors.As(err, &nf) {
		rs, rerr := c.ListResults(ctx, apiv1.ResultQuery{ExecID: arg, Page: apiv1.Page{Limit: 1}})
		if rerr != nil {
			return "", rerr
		}
		if len(rs.Items) > 0 {
			return arg, nil
		}
	}
	return id, err
}

// resolveResultID is resolveExecID for result_ids.
func resolveResultID(ctx context.Context, c *apiv1.Client, arg string) (string, error) {
	if !idPrefixOK(arg) {
		return arg, nil
	}
	l, err := c.ListResults(ctx, apiv1.ResultQuery{IDPrefix: arg, Page: apiv1.Page{Limit: maxCandidates + 1}})
	if err != nil {
		return "", err
	}
	ids := make([]string, 0, len(l.Items))
	for _, r := range l.Items {
		ids = append(ids, r.ResultID)
	}
	return pickPage("result", arg, ids)
}

// resolvePCID is resolveExecID for pc_ids.
func resolvePCID(ctx context.Context, c *apiv1.Client, arg string) (string, error) {
	if !idPrefixOK(arg) {
		return arg, nil
	}
	l, err := c.ListAgents(ctx, apiv1.AgentQuery{IDPrefix: arg, Page: apiv1.Page{Limit: maxCandidates + 1}})
	if err != nil {
		return "", err
	}
	ids := make([]string, 0, len(l.Items))
	for _, r := range l.Items {
		ids = append(ids, r.PCID)
	}
	return pickPage("agent", arg, ids)
}

// resolveJobID is resolveExecID for job ids (the job list is small and
// read whole: jobs live in KV, not SQL).
func resolveJobID(ctx context.Context, c *apiv1.Client, arg string) (string, error) {
	jobs, err := allJobIDs(ctx, c)
	if err != nil {
		return "", err
	}
	var ids []string
	for _, j := range jobs {
		if strings.HasPrefix(j, arg) {
			ids = append(ids, j)
		}
	}
	more := len(ids) > maxCandidates
	if more {
		sort.Strings(ids)
		ids = ids[:maxCandidates]
	}
	return pick("job", arg, ids, more)
}

func allJobIDs(ctx context.Context, c *apiv1.Client) ([]string, error) {
	var ids []string
	p := apiv1.Page{Limit: 500}
	for {
		l, err := c.ListJobs(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, j := range l.Items {
			ids = append(ids, j.ID)
		}
		if l.Next == "" || len(l.Items) == 0 {
			return ids, nil
		}
		p.Cursor = l.Next
	}
}

// pickPage is pick over one page of at most maxCandidates+1 ids.
func pickPage(what, arg string, ids []string) (string, error) {
	more := len(ids) > maxCandidates
	if more {
		for _, id := range ids {
			if id == arg {
				return id, nil
			}
		}
		ids = ids[:maxCandidates]
	}
	return pick(what, arg, ids, more)
}

// Completion of ids from the backend of the selected context. Any
// failure (no backend, no token) completes nothing, silently: a shell
// must not print errors while the user types.

// maxCompletions bounds what one completion asks the backend for.
const maxCompletions = 200

// completionTimeout bounds one completion's requests.
const completionTimeout = 3 * time.Second

type idLister func(ctx context.Context, c *apiv1.Client, prefix string) ([]string, error)

func listExecIDs(ctx context.Context, c *apiv1.Client, prefix string) ([]string, error) {
	q := apiv1.ExecutionQuery{Page: apiv1.Page{Limit: maxCompletions}}
	if idPrefixOK(prefix) {
		q.IDPrefix = prefix
	}
	l, err := c.ListExecutions(ctx, q)
	var out []string
	for _, e := range l.Items {
		out = append(out, e.ExecID+"\t"+e.JobID+" "+string(e.Status))
	}
	return out, err
}

func listPCIDs(ctx context.Context, c *apiv1.Client, prefix string) ([]string, error) {
	q := apiv1.AgentQuery{Page: apiv1.Page{Limit: maxCompletions}}
	if idPrefixOK(prefix) {
		q.IDPrefix = prefix
	}
	l, err := c.ListAgents(ctx, q)
	var out []string
	for _, r := range l.Items {
		out = append(out, r.PCID+"\t"+r.Hostname)
	}
	return out, err
}

func listResultIDs(ctx context.Context, c *apiv1.Client, prefix string) ([]string, error) {
	q := apiv1.ResultQuery{Page: apiv1.Page{Limit: maxCompletions}}
	if idPrefixOK(prefix) {
		q.IDPrefix = prefix
	}
	l, err := c.ListResults(ctx, q)
	var out []string
	for _, r := range l.Items {
		out = append(out, r.ResultID+"\t"+r.PCID+" "+r.JobID)
	}
	return out, err
}

func listJobIDs(ctx context.Context, c *apiv1.Client, prefix string) ([]string, error) {
	ids, err := allJobIDs(ctx, c)
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out, err
}

// completeIDs is a cobra completion function: ids of one kind for the
// first n positional arguments (n <= 0: every argument).
func (a *app) completeIDs(list idLister, n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n > 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.completeFrom(cmd, list, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFlagIDs completes a flag's value (--pc, --job, --exec).
func (a *app) completeFlagIDs(cmd *cobra.Command, flag string, list idLister) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return a.completeFrom(cmd, list, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
}

func (a *app) completeFrom(cmd *cobra.Command, list idLister, toComplete string) []string {
	// cobra's __complete runs no PersistentPreRun: apply the flags, env
	// and context here.
	if err := a.resolve(cmd); err != nil {
		return nil
	}
	c, err := a.api()
	if err != nil {
		return nil
	}
	// A shell waits for this while the user types: a backend that does
	// not answer soon completes nothing.
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	ids, err := list(ctx, c, toComplete)
	if err != nil {
		return nil
	}
	return ids
}

// idCompletions maps an argument placeholder of a command's Use, or a
// flag's name, to the ids that complete it.
var idCompletions = map[string]idLister{
	"<exec_id>": listExecIDs, "<result_id>": listResultIDs, "<pc_id>": listPCIDs, "<job_id>": listJobIDs,
	"exec": listExecIDs, "pc": listPCIDs, "job": listJobIDs,
}

// completeIDsByName gives every command whose first argument is
// <exec_id>, <result_id>, <pc_id> or <job_id> in its Use, and every --pc,
// --job and --exec flag, completion from the backend, unless it has its
// own. New commands get it by naming their argument so.
func (a *app) completeIDsByName(c *cobra.Command) {
	for _, sub := range c.Commands() {
		a.completeIDsByName(sub)
	}
	if f := strings.Fields(c.Use); c.ValidArgsFunction == nil && c.ValidArgs == nil && len(f) > 1 {
		if list, ok := idCompletions[f[1]]; ok {
			c.ValidArgsFunction = a.completeIDs(list, 1)
		}
	}
	c.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) {
		list, ok := idCompletions[fl.Name]
		if _, has := c.GetFlagCompletionFunc(fl.Name); ok && !has {
			a.completeFlagIDs(c, fl.Name, list)
		}
	})
}
