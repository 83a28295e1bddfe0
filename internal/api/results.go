package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (s *Server) listResults(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", "running", "success", "failure", "skipped")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	since, err := sinceParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	prefix, err := idPrefix(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	l, err := s.d.Store.PageResults(r.Context(), store.ResultFilter{ExecID: q.Get("exec_id"), JobID: q.Get("job_id"), IDPrefix: prefix,
		PCID: q.Get("pc_id"), Status: status, Since: since, Scope: scopeOf(r)}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}

func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	row, ok, err := s.d.Store.GetResult(r.Context(), r.PathValue("result_id"))
	if err == nil && ok {
		ok, err = s.pcVisible(r, row.PCID) // out of scope: 404, as if absent
	}
	if err == nil && ok && s.d.Outputs != nil {
		// Name the full output where there is one (stored by the
		// assembler, sent by this result's PC): GET …/output serves it.
		for _, st := range []struct {
			name string
			ref  *string
		}{{wire.OutputStdout, &row.StdoutRef}, {wire.OutputStderr, &row.StderrRef}} {
			if info, found, err := s.d.Outputs.Info(r.Context(), row.ResultID, st.name); err == nil && found && info.PCID == row.PCID {
				*st.ref = wire.OutputRef(row.ResultID, st.name)
			}
		}
	}
	one(s, w, r, row, ok, err, "result", "result_id")
}

// resultOutput streams one stream of a result's output (SPEC §11): the
// whole of it from object store result_output when the agent sent it,
// else the copy in the result row — all of a short output, or the head and
// tail of a long one the assembler has not stored (yet). The header
// Kanade-Output says which (apiv1.OutputFull, apiv1.OutputInline). An
// object is served only if the chunks came from the result's own PC:
// another agent could name this result_id on its own output subject, and
// must not be able to plant output for it.
func (s *Server) resultOutput(w http.ResponseWriter, r *http.Request) {
	stream, err := oneOf(r, "stream", wire.OutputStdout, wire.OutputStderr)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if stream == "" {
		stream = wire.OutputStdout
	}
	row, ok, err := s.d.Store.GetResult(r.Context(), r.PathValue("result_id"))
	if err == nil && ok {
		ok, err = s.pcVisible(r, row.PCID)
	}
	if err != nil || !ok {
		one(s, w, r, apiv1.Result{}, ok, err, "result", "result_id")
		return
	}
	if s.d.Outputs != nil && s.serveObject(w, r, row, stream) {
		return
	}
	text := row.Stdout
	if stream == wire.OutputStderr {
		text = row.Stderr
	}
	var body string
	if text != nil {
		body = *text
	}
	outputHeaders(w, apiv1.OutputInline, int64(len(body)))
	_, _ = io.WriteString(w, body)
}

// serveObject writes the stored full output and reports whether it did;
// false leaves the answer to the caller (no object, or not this PC's).
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, row apiv1.Result, stream string) bool {
	rc, info, found, err := s.d.Outputs.Open(r.Context(), row.ResultID, stream)
	if err != nil {
		// The excerpt is still worth serving while the object store is away.
		s.d.Log.Warn("full output unavailable; serving the result's copy", "result_id", row.ResultID, "stream", stream, "error", err)
		return false
	}
	if !found {
		return false
	}
	defer rc.Close()
	if info.PCID != row.PCID {
		s.d.Log.Warn("full output sent by another PC than the result's; not served", "result_id", row.ResultID,
			"stream", stream, "result_pc_id", row.PCID, "output_pc_id", info.PCID)
		s.d.Metrics.Add("kanade_output_foreign_pc_total", "Full outputs not served because another PC than the result's sent them.", 1)
		return false
	}
	outputHeaders(w, apiv1.OutputFull, int64(info.Size))
	w.Header().Set("Kanade-Output-Sha256", info.SHA256)
	if _, err := io.Copy(w, rc); err != nil {
		// Headers are gone: the short body (Content-Length) tells the client.
		s.d.Log.Warn("streaming full output", "result_id", row.ResultID, "stream", stream, "error", err)
	}
	return true
}

func outputHeaders(w http.ResponseWriter, kind string, size int64) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff") // script output is never HTML to a browser
	h.Set("Kanade-Output", kind)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
}
