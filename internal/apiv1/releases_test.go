package apiv1_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// UploadRelease streams the body as application/octet-stream with the
// query; a SectionReader declares its length, a plain reader is chunked.
func TestClientUploadRelease(t *testing.T) {
	t.Parallel()
	type seen struct {
		ctype, query, body string
		length             int64
	}
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Get("Content-Type"), r.URL.RawQuery, string(b), r.ContentLength}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"version":"1.0.0","os":"linux","arch":"amd64","size":6}`))
	}))
	defer srv.Close()
	c := &apiv1.Client{Base: srv.URL}
	q := apiv1.ReleaseUpload{Version: "1.0.0", OS: "linux", Arch: "amd64"}
	rel, err := c.UploadRelease(context.Background(), q, io.NewSectionReader(strings.NewReader("binary"), 0, 6))
	if err != nil || rel.Size != 6 {
		t.Fatalf("%+v %v", rel, err)
	}
	s := <-got
	if s.ctype != "application/octet-stream" || s.query != "arch=amd64&os=linux&version=1.0.0" || s.body != "binary" || s.length != 6 {
		t.Errorf("sized upload: %+v", s)
	}
	if _, err := c.UploadRelease(context.Background(), q, io.MultiReader(strings.NewReader("bin"), strings.NewReader("ary"))); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.body != "binary" || s.length != -1 {
		t.Errorf("streamed upload: %+v", s)
	}
}
