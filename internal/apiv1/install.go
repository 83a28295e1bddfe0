package apiv1

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// The installer (SPEC §13): GET /api/install/{os}?token=T answers an
// install script (text), GET /api/releases/{version}/{platform} the
// release binary (application/octet-stream, platform = os-arch).

// Headers of a release download.
const (
	// HeaderReleaseSHA256 is the lowercase hex SHA-256 of the binary.
	HeaderReleaseSHA256 = "X-Kanade-Sha256"
	// HeaderReleaseVersion is the version served (also on the install
	// script: the version it installs).
	HeaderReleaseVersion = "X-Kanade-Version"
	// The signature of the release statement (internal/release), as the
	// agent verifies it before self-update.
	HeaderReleaseKeyID     = "Kanade-Key-Id"
	HeaderReleaseSignature = "Kanade-Signature"
)

// InstallQuery is the query of GET /api/install/{os}.
type InstallQuery struct {
	// Token is a usable enrollment token: it authorises the script and
	// the download, and the script enrolls with it (only that consumes a
	// use).
	Token string `query:"token"`
}

// ReleaseDownloadQuery is the query of GET
// /api/releases/{version}/{platform}.
type ReleaseDownloadQuery struct {
	// Token, when set, is the credential instead of a viewer's bearer
	// token: a usable enrollment token (not consumed).
	Token string `query:"token"`
}

// ReleaseBinary is an open release download: read Body to its end (a
// read error there is a cut-short download) and close it.
type ReleaseBinary struct {
	Body      io.ReadCloser
	Size      int64
	SHA256    string
	Version   string
	KeyID     string
	Signature string
}

// InstallScript is GET /api/install/{os}: the install script as text.
func (c *Client) InstallScript(ctx context.Context, goos string, q InstallQuery) (string, error) {
	var raw rawAnswer
	if _, err := c.do(ctx, http.MethodGet, "/api/install/"+esc(goos), Query(q), nil, &raw); err != nil {
		return "", err
	}
	return string(raw.data), nil
}

// DownloadRelease is GET /api/releases/{version}/{platform}: the binary,
// streamed (not read into memory like other answers).
func (c *Client) DownloadRelease(ctx context.Context, version, platform string, q ReleaseDownloadQuery) (ReleaseBinary, error) {
	path := "/api/releases/" + esc(version) + "/" + esc(platform)
	res, err := c.open(ctx, http.MethodGet, path, Query(q), nil)
	if err != nil {
		return ReleaseBinary{}, err
	}
	size, err := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64)
	if err != nil {
		size = res.ContentLength
	}
	if size < 0 {
		_ = res.Body.Close()
		return ReleaseBinary{}, fmt.Errorf("GET %s: no Content-Length", path)
	}
	return ReleaseBinary{Body: res.Body, Size: size, SHA256: res.Header.Get(HeaderReleaseSHA256),
		Version: res.Header.Get(HeaderReleaseVersion), KeyID: res.Header.Get(HeaderReleaseKeyID),
		Signature: res.Header.Get(HeaderReleaseSignature)}, nil
}
