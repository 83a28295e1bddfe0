package apiv1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// MaxAnswer bounds how much of one answer the client reads.
const MaxAnswer = 256 << 20

// Client calls the /api of one backend. The zero HTTP uses
// http.DefaultClient; an empty Token sends no Authorization header (a
// backend with auth disabled, or the public routes).
type Client struct {
	Base      string // http://host:port, without /api
	Token     string // bearer token
	HTTP      *http.Client
	UserAgent string // default "kanade-apiv1"
}

// Error is a non-2xx answer: its status and the {error, field} body.
type Error struct {
	Method, Path string
	Status       int
	Message      string // the body's "error" (or its first 200 bytes when not JSON)
	Field        string // the input at fault, if one is
	ExecID       string // POST /api/run's 408: the run given up on
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s %s: %s: %s (HTTP %d)", e.Method, e.Path, e.Field, msg, e.Status)
	}
	return fmt.Sprintf("%s %s: %s (HTTP %d)", e.Method, e.Path, msg, e.Status)
}

// TransportError is a request that got no answer: the backend could not be
// reached, or the connection broke.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string { return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends one request. body is nil, Source (sent as YAML text), Binary
// or an io.Reader (sent as raw bytes) or a value sent as JSON; out (when
// not nil) receives the decoded answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any, alsoOK ...int) (http.Header, error) {
	res, err := c.open(ctx, method, path, q, body, alsoOK...)
	if err != nil {
		if res != nil {
			return res.Header, err
		}
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswer))
	if err != nil {
		return res.Header, &TransportError{Method: method, Path: path, Err: fmt.Errorf("read answer: %w", err)}
	}
	if raw, ok := out.(*rawAnswer); ok {
		raw.data, raw.header = data, res.Header
		return res.Header, nil
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.Header, fmt.Errorf("%s %s: the backend sent unexpected JSON: %w", method, path, err)
		}
	}
	return res.Header, nil
}

// open sends one request and returns the answer, its body unread, when
// its status is 2xx or in alsoOK. Any other status is an *Error (the
// answer is returned too, its body read and closed, for its headers).
func (c *Client) open(ctx context.Context, method, path string, q url.Values, body any, alsoOK ...int) (*http.Response, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case Source:
		rd, ctype = bytes.NewReader(b), "application/yaml"
	case Binary:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	u := strings.TrimRight(c.Base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if sz, ok := rd.(interface{ Size() int64 }); ok && req.ContentLength == 0 {
		// An io.SectionReader over a file: a declared length lets the
		// server refuse an oversized upload before it is sent.
		req.ContentLength = sz.Size()
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "kanade-apiv1"
	}
	req.Header.Set("User-Agent", ua)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, &TransportError{Method: method, Path: path, Err: err}
	}
	if res.StatusCode/100 == 2 || slices.Contains(alsoOK, res.StatusCode) {
		return res, nil
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswer))
	if err != nil {
		return res, &TransportError{Method: method, Path: path, Err: fmt.Errorf("read answer: %w", err)}
	}
	e := &Error{Method: method, Path: path, Status: res.StatusCode}
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil {
		e.Message, e.Field, e.ExecID = eb.Error, eb.Field, eb.ExecID
	} else {
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return res, e
}

func get[T any](ctx context.Context, c *Client, path string, q url.Values, alsoOK ...int) (T, error) {
	var v T
	_, err := c.do(ctx, http.MethodGet, path, q, nil, &v, alsoOK...)
	return v, err
}

func send[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var v T
	_, err := c.do(ctx, method, path, nil, body, &v)
	return v, err
}

func list[T any](ctx context.Context, c *Client, path string, query any) (List[T], error) {
	var l List[T]
	h, err := c.do(ctx, http.MethodGet, path, Query(query), nil, &l.Items)
	if err != nil {
		return l, err
	}
	if l.Items == nil {
		l.Items = []T{}
	}
	l.Total = len(l.Items)
	if n, err := strconv.Atoi(h.Get("X-Total-Count")); err == nil {
		l.Total = n
	}
	l.Estimated = h.Get("X-Total-Count-Estimated") == "true"
	l.Next = h.Get("X-Next-Cursor")
	return l, nil
}

// Query encodes a struct's `query`-tagged fields (embedded structs
// included); zero values are left out, so the server's defaults apply.
func Query(v any) url.Values {
	q := url.Values{}
	if v == nil {
		return q
	}
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		for i := range rv.NumField() {
			f, fv := rv.Type().Field(i), rv.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(fv)
				continue
			}
			name := f.Tag.Get("query")
			if name == "" || fv.IsZero() {
				continue
			}
			if fv.Kind() == reflect.Slice { // a repeatable parameter (where=...)
				for j := 0; j < fv.Len(); j++ {
					q.Add(name, fmt.Sprint(fv.Index(j).Interface()))
				}
				continue
			}
			q.Set(name, fmt.Sprint(fv.Interface()))
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	walk(rv)
	return q
}

// All walks a list by cursor with pages of up to 1000 rows, returning at
// most max rows (0 = all) and the total of the first page. page is called
// with the Page to ask for; the caller's filters go in its closure:
//
//	rows, total, err := apiv1.All(ctx, 0, func(ctx context.Context, p apiv1.Page) (apiv1.List[apiv1.Result], error) {
//		q.Page = p
//		return c.ListResults(ctx, q)
//	})
func All[T any](ctx context.Context, max int, page func(ctx context.Context, p Page) (List[T], error)) ([]T, int, error) {
	all := []T{}
	total := 0
	err := Walk(ctx, max, page, func(l List[T]) error {
		if total == 0 {
			total = l.Total
		}
		all = append(all, l.Items...)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return all, total, nil
}

// Walk calls each with every page of a list in turn, following
// X-Next-Cursor, until the last page, max rows (0 = no bound) or an error
// (of page, or of each). Pages are of up to 1000 rows.
func Walk[T any](ctx context.Context, max int, page func(ctx context.Context, p Page) (List[T], error), each func(List[T]) error) error {
	const size = 1000
	p := Page{Limit: size}
	seen := 0
	for {
		if max > 0 && max-seen < p.Limit {
			p.Limit = max - seen
		}
		l, err := page(ctx, p)
		if err != nil {
			return err
		}
		seen += len(l.Items)
		if err := each(l); err != nil {
			return err
		}
		if l.Next == "" || len(l.Items) == 0 || (max > 0 && seen >= max) {
			return nil
		}
		p.Cursor = l.Next
	}
}

func esc(s string) string { return url.PathEscape(s) }

// Health checks GET /health (not under /api: the load balancer's probe).
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/health", nil, nil, nil)
	return err
}

// Version is GET /api/version.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	return get[VersionInfo](ctx, c, "/api/version", nil)
}

// ListAgents is GET /api/agents.
func (c *Client) ListAgents(ctx context.Context, q AgentQuery) (List[Agent], error) {
	return list[Agent](ctx, c, "/api/agents", q)
}

// ListInventoryTables is GET /api/inventory/tables.
func (c *Client) ListInventoryTables(ctx context.Context) ([]InventoryTable, error) {
	return get[[]InventoryTable](ctx, c, "/api/inventory/tables", nil)
}

// ListInventoryRows is GET /api/inventory/tables/{table}.
func (c *Client) ListInventoryRows(ctx context.Context, table string, q InventoryRowQuery) (List[InventoryRow], error) {
	return list[InventoryRow](ctx, c, "/api/inventory/tables/"+esc(table), q)
}

// ListAgentVersions is GET /api/agents/versions.
func (c *Client) ListAgentVersions(ctx context.Context) ([]AgentVersion, error) {
	return get[[]AgentVersion](ctx, c, "/api/agents/versions", nil)
}

// GetAgent is GET /api/agents/{pc_id}.
func (c *Client) GetAgent(ctx context.Context, pc string) (Agent, error) {
	return get[Agent](ctx, c, "/api/agents/"+esc(pc), nil)
}

// DeleteAgent is DELETE /api/agents/{pc_id}.
func (c *Client) DeleteAgent(ctx context.Context, pc string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/agents/"+esc(pc), nil, nil, nil)
	return err
}

// PingAgent is POST /api/agents/{pc_id}/ping.
func (c *Client) PingAgent(ctx context.Context, pc string) (Heartbeat, error) {
	return send[Heartbeat](ctx, c, http.MethodPost, "/api/agents/"+esc(pc)+"/ping", nil)
}

// ReenrollAgent is POST /api/agents/{pc_id}/reenroll.
func (c *Client) ReenrollAgent(ctx context.Context, pc string) (Reenroll, error) {
	return send[Reenroll](ctx, c, http.MethodPost, "/api/agents/"+esc(pc)+"/reenroll", nil)
}

// Enroll is POST /api/enroll (kanade-agent enroll has its own copy, which
// links no client code).
func (c *Client) Enroll(ctx context.Context, r EnrollRequest) (EnrollResponse, error) {
	return send[EnrollResponse](ctx, c, http.MethodPost, "/api/enroll", r)
}

// CreateEnrollmentToken is POST /api/enrollment-tokens.
func (c *Client) CreateEnrollmentToken(ctx context.Context, r CreateEnrollmentTokenRequest) (CreatedEnrollmentToken, error) {
	return send[CreatedEnrollmentToken](ctx, c, http.MethodPost, "/api/enrollment-tokens", r)
}

// ListEnrollmentTokens is GET /api/enrollment-tokens.
func (c *Client) ListEnrollmentTokens(ctx context.Context, p Page) (List[EnrollmentToken], error) {
	return list[EnrollmentToken](ctx, c, "/api/enrollment-tokens", p)
}

// DeleteEnrollmentToken is DELETE /api/enrollment-tokens/{id}.
func (c *Client) DeleteEnrollmentToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/enrollment-tokens/"+esc(id), nil, nil, nil)
	return err
}

// ListOperatorCreds is GET /api/broker/operator-creds.
func (c *Client) ListOperatorCreds(ctx context.Context, p Page) (List[OperatorCredInfo], error) {
	return list[OperatorCredInfo](ctx, c, "/api/broker/operator-creds", p)
}

// RevokeOperatorCreds is DELETE /api/broker/operator-creds/{public_key}.
func (c *Client) RevokeOperatorCreds(ctx context.Context, publicKey string) (OperatorCredInfo, error) {
	return send[OperatorCredInfo](ctx, c, http.MethodDelete, "/api/broker/operator-creds/"+esc(publicKey), nil)
}

// CreateOperatorCreds is POST /api/broker/operator-creds.
func (c *Client) CreateOperatorCreds(ctx context.Context, r OperatorCredsRequest) (OperatorCreds, error) {
	return send[OperatorCreds](ctx, c, http.MethodPost, "/api/broker/operator-creds", r)
}

// ListGroups is GET /api/groups.
func (c *Client) ListGroups(ctx context.Context) ([]GroupMembers, error) {
	return get[[]GroupMembers](ctx, c, "/api/groups", nil)
}

// GetAgentGroups is GET /api/agents/{pc_id}/groups.
func (c *Client) GetAgentGroups(ctx context.Context, pc string) (AgentGroups, error) {
	return get[AgentGroups](ctx, c, "/api/agents/"+esc(pc)+"/groups", nil)
}

// SetAgentGroups is PUT /api/agents/{pc_id}/groups.
func (c *Client) SetAgentGroups(ctx context.Context, pc string, g AgentGroups) (AgentGroups, error) {
	if g.Groups == nil {
		g.Groups = []string{} // null is refused: [] is "no groups"
	}
	return send[AgentGroups](ctx, c, http.MethodPut, "/api/agents/"+esc(pc)+"/groups", g)
}

// AddAgentGroup is POST /api/agents/{pc_id}/groups.
func (c *Client) AddAgentGroup(ctx context.Context, pc string, r AddGroupRequest) (AgentGroups, error) {
	return send[AgentGroups](ctx, c, http.MethodPost, "/api/agents/"+esc(pc)+"/groups", r)
}

// RemoveAgentGroup is DELETE /api/agents/{pc_id}/groups/{group}.
func (c *Client) RemoveAgentGroup(ctx context.Context, pc, group string) (AgentGroups, error) {
	return send[AgentGroups](ctx, c, http.MethodDelete, "/api/agents/"+esc(pc)+"/groups/"+esc(group), nil)
}

// ListExecutions is GET /api/executions.
func (c *Client) ListExecutions(ctx context.Context, q ExecutionQuery) (List[Execution], error) {
	return list[Execution](ctx, c, "/api/executions", q)
}

// GetExecution is GET /api/executions/{exec_id}.
func (c *Client) GetExecution(ctx context.Context, execID string) (ExecutionDetail, error) {
	return get[ExecutionDetail](ctx, c, "/api/executions/"+esc(execID), nil)
}

// ListResults is GET /api/results.
func (c *Client) ListResults(ctx context.Context, q ResultQuery) (List[Result], error) {
	return list[Result](ctx, c, "/api/results", q)
}

// rawAnswer receives a non-JSON answer as it is.
type rawAnswer struct {
	data   []byte
	header http.Header
}

// ResultOutput is GET /api/results/{result_id}/output: the bytes of one
// stream (stdout unless q says stderr), and whether they are all of it.
func (c *Client) ResultOutput(ctx context.Context, id string, q OutputQuery) (Output, error) {
	var raw rawAnswer
	if _, err := c.do(ctx, http.MethodGet, "/api/results/"+esc(id)+"/output", Query(q), nil, &raw); err != nil {
		return Output{}, err
	}
	return Output{Data: raw.data, Full: raw.header.Get("Kanade-Output") == OutputFull}, nil
}

// GetResult is GET /api/results/{result_id}.
func (c *Client) GetResult(ctx context.Context, id string) (Result, error) {
	return get[Result](ctx, c, "/api/results/"+esc(id), nil)
}

// ListAudit is GET /api/audit.
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) (List[AuditEntry], error) {
	return list[AuditEntry](ctx, c, "/api/audit", q)
}

// FleetHealth is GET /api/health/fleet; a degraded fleet (503) is an
// answer, not an error.
func (c *Client) FleetHealth(ctx context.Context) (FleetHealth, error) {
	return get[FleetHealth](ctx, c, "/api/health/fleet", nil, http.StatusServiceUnavailable)
}

// Login is POST /api/auth/login.
func (c *Client) Login(ctx context.Context, r LoginRequest) (LoginResponse, error) {
	return send[LoginResponse](ctx, c, http.MethodPost, "/api/auth/login", r)
}

// Me is GET /api/auth/me.
func (c *Client) Me(ctx context.Context) (Me, error) {
	return get[Me](ctx, c, "/api/auth/me", nil)
}

// ChangePassword is POST /api/auth/change-password.
func (c *Client) ChangePassword(ctx context.Context, r ChangePasswordRequest) (LoginResponse, error) {
	return send[LoginResponse](ctx, c, http.MethodPost, "/api/auth/change-password", r)
}

// ChangeOwnPassword is POST /api/auth/password.
func (c *Client) ChangeOwnPassword(ctx context.Context, r ChangePasswordRequest) (LoginResponse, error) {
	return send[LoginResponse](ctx, c, http.MethodPost, "/api/auth/password", r)
}

// CreateAPIToken is POST /api/tokens.
func (c *Client) CreateAPIToken(ctx context.Context, r CreateAPITokenRequest) (CreatedAPIToken, error) {
	return send[CreatedAPIToken](ctx, c, http.MethodPost, "/api/tokens", r)
}

// ListAPITokens is GET /api/tokens.
func (c *Client) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	return get[[]APIToken](ctx, c, "/api/tokens", nil)
}

// RevokeAPIToken is DELETE /api/tokens/{id}.
func (c *Client) RevokeAPIToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/tokens/"+esc(id), nil, nil, nil)
	return err
}

// ListAccounts is GET /api/accounts.
func (c *Client) ListAccounts(ctx context.Context, p Page) (List[Account], error) {
	return list[Account](ctx, c, "/api/accounts", p)
}

// CreateAccount is POST /api/accounts.
func (c *Client) CreateAccount(ctx context.Context, r CreateAccountRequest) (Account, error) {
	return send[Account](ctx, c, http.MethodPost, "/api/accounts", r)
}

// GetAccount is GET /api/accounts/{username}.
func (c *Client) GetAccount(ctx context.Context, username string) (Account, error) {
	return get[Account](ctx, c, "/api/accounts/"+esc(username), nil)
}

// UpdateAccount is PATCH /api/accounts/{username}.
func (c *Client) UpdateAccount(ctx context.Context, username string, r UpdateAccountRequest) (Account, error) {
	return send[Account](ctx, c, http.MethodPatch, "/api/accounts/"+esc(username), r)
}

// DeleteAccount is DELETE /api/accounts/{username}.
func (c *Client) DeleteAccount(ctx context.Context, username string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/accounts/"+esc(username), nil, nil, nil)
	return err
}

// ListJobs is GET /api/jobs.
func (c *Client) ListJobs(ctx context.Context, p Page) (List[Job], error) {
	return list[Job](ctx, c, "/api/jobs", p)
}

// PutJob is POST /api/jobs with a manifest's YAML or JSON text.
func (c *Client) PutJob(ctx context.Context, manifest Source) (Job, error) {
	return send[Job](ctx, c, http.MethodPost, "/api/jobs", manifest)
}

// GetJob is GET /api/jobs/{id}.
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	return get[Job](ctx, c, "/api/jobs/"+esc(id), nil)
}

// DeleteJob is DELETE /api/jobs/{id}.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/jobs/"+esc(id), nil, nil, nil)
	return err
}

// KillExecution is POST /api/executions/{exec_id}/kill.
func (c *Client) KillExecution(ctx context.Context, execID string) (ExecKillResponse, error) {
	return send[ExecKillResponse](ctx, c, http.MethodPost, "/api/executions/"+esc(execID)+"/kill", nil)
}

// PauseExecution is POST /api/executions/{exec_id}/pause.
func (c *Client) PauseExecution(ctx context.Context, execID string) (RolloutActionResponse, error) {
	return send[RolloutActionResponse](ctx, c, http.MethodPost, "/api/executions/"+esc(execID)+"/pause", nil)
}

// ResumeExecution is POST /api/executions/{exec_id}/resume.
func (c *Client) ResumeExecution(ctx context.Context, execID string) (RolloutActionResponse, error) {
	return send[RolloutActionResponse](ctx, c, http.MethodPost, "/api/executions/"+esc(execID)+"/resume", nil)
}

// CancelExecution is POST /api/executions/{exec_id}/cancel.
func (c *Client) CancelExecution(ctx context.Context, execID string) (RolloutActionResponse, error) {
	return send[RolloutActionResponse](ctx, c, http.MethodPost, "/api/executions/"+esc(execID)+"/cancel", nil)
}

// KillJob is POST /api/jobs/{id}/kill.
func (c *Client) KillJob(ctx context.Context, id string) (KillResponse, error) {
	return send[KillResponse](ctx, c, http.MethodPost, "/api/jobs/"+esc(id)+"/kill", nil)
}

// RevokeScript is POST /api/scripts/{id}/revoke.
func (c *Client) RevokeScript(ctx context.Context, id string) (RevokeResponse, error) {
	return send[RevokeResponse](ctx, c, http.MethodPost, "/api/scripts/"+esc(id)+"/revoke", nil)
}

// UnrevokeScript is POST /api/scripts/{id}/unrevoke.
func (c *Client) UnrevokeScript(ctx context.Context, id string) (RevokeResponse, error) {
	return send[RevokeResponse](ctx, c, http.MethodPost, "/api/scripts/"+esc(id)+"/unrevoke", nil)
}

// Exec is POST /api/exec/{job_id}.
func (c *Client) Exec(ctx context.Context, jobID string, r ExecRequest) (ExecResponse, error) {
	return send[ExecResponse](ctx, c, http.MethodPost, "/api/exec/"+esc(jobID), r)
}

// Run is POST /api/run. When no result came in time the error is an *Error
// with status 408 and the ExecID of the run.
func (c *Client) Run(ctx context.Context, r RunRequest) (ExecResult, error) {
	return send[ExecResult](ctx, c, http.MethodPost, "/api/run", r)
}

// ListNotificationChannels is GET /api/notification-channels.
func (c *Client) ListNotificationChannels(ctx context.Context, p Page) (List[NotificationChannel], error) {
	return list[NotificationChannel](ctx, c, "/api/notification-channels", p)
}

// CreateNotificationChannel is POST /api/notification-channels.
func (c *Client) CreateNotificationChannel(ctx context.Context, in NotificationChannelInput) (NotificationChannel, error) {
	return send[NotificationChannel](ctx, c, http.MethodPost, "/api/notification-channels", in)
}

// GetNotificationChannel is GET /api/notification-channels/{id}.
func (c *Client) GetNotificationChannel(ctx context.Context, id string) (NotificationChannel, error) {
	return get[NotificationChannel](ctx, c, "/api/notification-channels/"+esc(id), nil)
}

// UpdateNotificationChannel is PUT /api/notification-channels/{id}.
func (c *Client) UpdateNotificationChannel(ctx context.Context, id string, in NotificationChannelInput) (NotificationChannel, error) {
	return send[NotificationChannel](ctx, c, http.MethodPut, "/api/notification-channels/"+esc(id), in)
}

// DeleteNotificationChannel is DELETE /api/notification-channels/{id}.
func (c *Client) DeleteNotificationChannel(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/notification-channels/"+esc(id), nil, nil, nil)
	return err
}

// TestNotificationChannel is POST /api/notification-channels/{id}/test.
func (c *Client) TestNotificationChannel(ctx context.Context, id string) (TestNotificationResponse, error) {
	return send[TestNotificationResponse](ctx, c, http.MethodPost, "/api/notification-channels/"+esc(id)+"/test", nil)
}

// ListNotifications is GET /api/notifications.
func (c *Client) ListNotifications(ctx context.Context, q NotificationQuery) (List[NotificationDelivery], error) {
	return list[NotificationDelivery](ctx, c, "/api/notifications", q)
}

// ListSchedules is GET /api/schedules.
func (c *Client) ListSchedules(ctx context.Context, p Page) (List[ScheduleRow], error) {
	return list[ScheduleRow](ctx, c, "/api/schedules", p)
}

// ApplySchedule is POST /api/schedules with a schedule's YAML or JSON text.
func (c *Client) ApplySchedule(ctx context.Context, src Source) (ScheduleRow, error) {
	return send[ScheduleRow](ctx, c, http.MethodPost, "/api/schedules", src)
}

// GetSchedule is GET /api/schedules/{id}.
func (c *Client) GetSchedule(ctx context.Context, id string) (ScheduleRow, error) {
	return get[ScheduleRow](ctx, c, "/api/schedules/"+esc(id), nil)
}

// DeleteSchedule is DELETE /api/schedules/{id}.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/schedules/"+esc(id), nil, nil, nil)
	return err
}

// EnableSchedule is POST /api/schedules/{id}/enable.
func (c *Client) EnableSchedule(ctx context.Context, id string) (ScheduleRow, error) {
	return send[ScheduleRow](ctx, c, http.MethodPost, "/api/schedules/"+esc(id)+"/enable", nil)
}

// DisableSchedule is POST /api/schedules/{id}/disable.
func (c *Client) DisableSchedule(ctx context.Context, id string) (ScheduleRow, error) {
	return send[ScheduleRow](ctx, c, http.MethodPost, "/api/schedules/"+esc(id)+"/disable", nil)
}

// PreviewSchedule is GET /api/schedules/{id}/preview.
func (c *Client) PreviewSchedule(ctx context.Context, id string, q PreviewQuery) (Preview, error) {
	return get[Preview](ctx, c, "/api/schedules/"+esc(id)+"/preview", Query(q))
}

// GetFreeze is GET /api/freeze.
func (c *Client) GetFreeze(ctx context.Context) (FreezeView, error) {
	return get[FreezeView](ctx, c, "/api/freeze", nil)
}

// PutFreeze is PUT /api/freeze.
func (c *Client) PutFreeze(ctx context.Context, r FreezeRequest) (FreezeView, error) {
	return send[FreezeView](ctx, c, http.MethodPut, "/api/freeze", r)
}

// DeleteFreeze is DELETE /api/freeze.
func (c *Client) DeleteFreeze(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/freeze", nil, nil, nil)
	return err
}

// Scope names one layer of agent configuration: global (zero), a group's
// or a PC's.
type Scope struct{ Group, PC string }

// Path is the scope's route.
func (s Scope) Path() string {
	switch {
	case s.Group != "":
		return "/api/groups/" + esc(s.Group) + "/config"
	case s.PC != "":
		return "/api/pcs/" + esc(s.PC) + "/config"
	}
	return "/api/config"
}

// GetConfig is GET on a config scope.
func (c *Client) GetConfig(ctx context.Context, s Scope) (ConfigScope, error) {
	return get[ConfigScope](ctx, c, s.Path(), nil)
}

// PutConfig is PUT on a config scope (fields left out are unset).
func (c *Client) PutConfig(ctx context.Context, s Scope, v ConfigScope) (ConfigScope, error) {
	return send[ConfigScope](ctx, c, http.MethodPut, s.Path(), v)
}

// PatchConfig is PATCH on a config scope: a value sets a field, nil unsets it.
func (c *Client) PatchConfig(ctx context.Context, s Scope, p ConfigPatch) (ConfigScope, error) {
	return send[ConfigScope](ctx, c, http.MethodPatch, s.Path(), p)
}

// DeleteConfig is DELETE on a group's or a PC's config scope.
func (c *Client) DeleteConfig(ctx context.Context, s Scope) error {
	_, err := c.do(ctx, http.MethodDelete, s.Path(), nil, nil, nil)
	return err
}

// GetGlobalConfig is GET /api/config.
func (c *Client) GetGlobalConfig(ctx context.Context) (ConfigScope, error) {
	return c.GetConfig(ctx, Scope{})
}

// PutGlobalConfig is PUT /api/config.
func (c *Client) PutGlobalConfig(ctx context.Context, v ConfigScope) (ConfigScope, error) {
	return c.PutConfig(ctx, Scope{}, v)
}

// PatchGlobalConfig is PATCH /api/config.
func (c *Client) PatchGlobalConfig(ctx context.Context, p ConfigPatch) (ConfigScope, error) {
	return c.PatchConfig(ctx, Scope{}, p)
}

// GetGroupConfig is GET /api/groups/{group}/config.
func (c *Client) GetGroupConfig(ctx context.Context, group string) (ConfigScope, error) {
	return c.GetConfig(ctx, Scope{Group: group})
}

// PutGroupConfig is PUT /api/groups/{group}/config.
func (c *Client) PutGroupConfig(ctx context.Context, group string, v ConfigScope) (ConfigScope, error) {
	return c.PutConfig(ctx, Scope{Group: group}, v)
}

// PatchGroupConfig is PATCH /api/groups/{group}/config.
func (c *Client) PatchGroupConfig(ctx context.Context, group string, p ConfigPatch) (ConfigScope, error) {
	return c.PatchConfig(ctx, Scope{Group: group}, p)
}

// DeleteGroupConfig is DELETE /api/groups/{group}/config.
func (c *Client) DeleteGroupConfig(ctx context.Context, group string) error {
	return c.DeleteConfig(ctx, Scope{Group: group})
}

// GetPCConfig is GET /api/pcs/{pc_id}/config.
func (c *Client) GetPCConfig(ctx context.Context, pc string) (ConfigScope, error) {
	return c.GetConfig(ctx, Scope{PC: pc})
}

// PutPCConfig is PUT /api/pcs/{pc_id}/config.
func (c *Client) PutPCConfig(ctx context.Context, pc string, v ConfigScope) (ConfigScope, error) {
	return c.PutConfig(ctx, Scope{PC: pc}, v)
}

// PatchPCConfig is PATCH /api/pcs/{pc_id}/config.
func (c *Client) PatchPCConfig(ctx context.Context, pc string, p ConfigPatch) (ConfigScope, error) {
	return c.PatchConfig(ctx, Scope{PC: pc}, p)
}

// DeletePCConfig is DELETE /api/pcs/{pc_id}/config.
func (c *Client) DeletePCConfig(ctx context.Context, pc string) error {
	return c.DeleteConfig(ctx, Scope{PC: pc})
}

// GetEffectiveConfig is GET /api/agents/{pc_id}/effective_config.
func (c *Client) GetEffectiveConfig(ctx context.Context, pc string) (EffectiveView, error) {
	return get[EffectiveView](ctx, c, "/api/agents/"+esc(pc)+"/effective_config", nil)
}

// UploadRelease is POST /api/releases: body is the agent binary, streamed
// (an *io.SectionReader also declares its length, so the server can refuse
// an oversized file before it is sent).
func (c *Client) UploadRelease(ctx context.Context, q ReleaseUpload, body io.Reader) (Release, error) {
	var v Release
	_, err := c.do(ctx, http.MethodPost, "/api/releases", Query(q), body, &v)
	return v, err
}

// ListReleases is GET /api/releases.
func (c *Client) ListReleases(ctx context.Context, p Page) (List[Release], error) {
	return list[Release](ctx, c, "/api/releases", p)
}

// DeleteRelease is DELETE /api/releases/{version}.
func (c *Client) DeleteRelease(ctx context.Context, version string) (DeletedRelease, error) {
	return send[DeletedRelease](ctx, c, http.MethodDelete, "/api/releases/"+esc(version), nil)
}
