package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/release/exe"
)

// uploadTimeout bounds a release upload when --request-timeout is not
// given: the default 30 s suits JSON answers, not a binary over a slow link.
const uploadTimeout = 30 * time.Minute

// releaseCmd manages agent releases (SPEC §13): the binaries agents update
// themselves to when their target_version names them.
func (a *app) releaseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "release", Aliases: []string{"releases"}, Short: "Upload, list and delete agent releases (self-update binaries)"}

	var version, goos, arch string
	upload := &cobra.Command{
		Use:   "upload FILE --version V [--os OS] [--arch ARCH]",
		Short: "Upload a kanade-agent binary as a release (signed by the backend)",
		Long: `Upload a kanade-agent binary for one version and platform. The backend checks it is
an executable of that OS and architecture, signs its SHA-256 with the command-signing
key and stores it in object store agent_releases; agents whose target_version is V
download it, verify digest and signature, and swap it in.

--os and --arch default to what the file's header says (ELF: linux, Mach-O: darwin,
PE: windows; the machine type gives the architecture); a universal Mach-O holds
several architectures, so give --arch for it (upload it once per architecture).
Given, they must agree with the file.

Releases are immutable: uploading an existing version/os/arch is refused (409);
delete the version first, or better, upload a new version.`,
		Example: `  kanade release upload ./kanade-agent --version 1.4.0
  kanade release upload kanade-agent.exe --version 1.4.0 --os windows --arch amd64`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version == "" {
				return usagef("--version is required (the version the binary reports, as set by -ldflags -X)")
			}
			if err := release.ValidVersion(version); err != nil {
				return usagef("--version: %v", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if !st.Mode().IsRegular() {
				return usagef("%s is not a regular file", args[0])
			}
			q, err := releasePlatform(f, st.Size(), args[0], version, goos, arch)
			if err != nil {
				return err
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			if !flagChanged(cmd.Flags(), "request-timeout") {
				c.HTTP = &http.Client{Timeout: uploadTimeout}
			}
			body := &hashing{r: io.NewSectionReader(f, 0, st.Size()), h: sha256.New(), size: st.Size()}
			rel, err := c.UploadRelease(cmd.Context(), q, body)
			if err != nil {
				return err
			}
			if local := hex.EncodeToString(body.h.Sum(nil)); rel.SHA256 != local {
				return fmt.Errorf("the backend stored sha256 %s but the file sent has %s: delete version %s and upload again", rel.SHA256, local, rel.Version)
			}
			return a.emitValue(rel, func(w io.Writer) error {
				return kv(w, "release", release.ObjectName(rel.Version, rel.OS, rel.Arch), "version", rel.Version, "os", rel.OS,
					"arch", rel.Arch, "size", fmt.Sprintf("%s (%d bytes)", bytesize.Format(uint64(rel.Size)), rel.Size),
					"sha256", rel.SHA256, "key_id", rel.KeyID, "uploaded_at", a.when(rel.UploadedAt))
			})
		},
	}
	f := upload.Flags()
	f.StringVar(&version, "version", "", "the release's version (required)")
	f.StringVar(&goos, "os", "", "linux|darwin|windows (default: from the file's header)")
	f.StringVar(&arch, "arch", "", "amd64|arm64 (default: from the file's header)")

	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List agent releases, newest upload first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Release], error) {
				return c.ListReleases(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "VERSION", "OS", "ARCH", "SIZE", "SHA256", "KEY", "UPLOADED")
				for _, r := range rows {
					t.row(r.Version, r.OS, r.Arch, bytesize.Format(uint64(r.Size)), short(r.SHA256, 12), r.KeyID, a.when(r.UploadedAt))
				}
				if err := t.flush(); err != nil {
					return err
				}
				for _, r := range rows {
					if r.Error != "" {
						fmt.Fprintf(w, "warning: %s/%s-%s is not a valid signed release and is never served: %s\n", r.Version, r.OS, r.Arch, r.Error)
					}
				}
				return nil
			})
		},
	}
	bound = pagingFlags(list, 0)

	del := &cobra.Command{
		Use:   "delete VERSION",
		Short: "Delete every platform's binary of a release version",
		Long: `Delete every platform's binary of a release version. Agents already running it keep
running; agents whose target_version still names it can no longer download it (the
command warns about the config scopes that do: change or unset their target_version).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			d, err := c.DeleteRelease(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(d.TargetOf) > 0 {
				fmt.Fprintf(a.opt.Err, "warning: %s is still the target_version of %s: those agents cannot download it; set target_version to another release or unset it\n",
					d.Version, strings.Join(d.TargetOf, ", "))
			}
			return a.emitValue(d, func(w io.Writer) error {
				plats := make([]string, 0, len(d.Deleted))
				for _, n := range d.Deleted {
					if _, o, ar, ok := release.ParseObjectName(n); ok {
						plats = append(plats, o+"/"+ar)
					} else {
						plats = append(plats, n)
					}
				}
				slices.Sort(plats)
				_, err := fmt.Fprintf(w, "deleted release %s (%s)\n", d.Version, strings.Join(plats, ", "))
				return err
			})
		},
	}
	cmd.AddCommand(upload, list, del)
	return cmd
}

// releasePlatform reads the executable's header: os and arch default to
// it, and given ones must agree (the backend checks again, but a refusal
// here costs no upload).
func releasePlatform(r io.ReaderAt, size int64, name, version, goos, arch string) (apiv1.ReleaseUpload, error) {
	q := apiv1.ReleaseUpload{Version: version, OS: goos, Arch: arch}
	info, err := exe.Identify(r, size)
	var ne *exe.NotExecutableError
	if errors.As(err, &ne) {
		return q, usagef("%s is %s, not an agent binary", name, ne.What)
	}
	if err != nil {
		return q, err
	}
	if q.OS == "" {
		q.OS = info.OS
	} else if q.OS != info.OS {
		return q, usagef("--os %s, but %s is %s", q.OS, name, info)
	}
	if q.Arch == "" {
		if len(info.Arches) != 1 {
			return q, usagef("%s is %s: give --arch (upload it once per architecture)", name, info)
		}
		q.Arch = info.Arches[0]
	} else if !info.Has(q.Arch) {
		return q, usagef("--arch %s, but %s is %s", q.Arch, name, info)
	}
	if err := release.ValidPlatform(q.OS, q.Arch); err != nil {
		return q, usagef("%s is %s: %v", name, info, err)
	}
	return q, nil
}

// hashing digests what is read through it; Size declares the length so
// the upload is not chunked (the backend refuses an oversized one before
// it is sent).
type hashing struct {
	r    io.Reader
	h    hash.Hash
	size int64
}

func (hr *hashing) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

func (hr *hashing) Size() int64 { return hr.size }

// short cuts a digest for a table.
func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
