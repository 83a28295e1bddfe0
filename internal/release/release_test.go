package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/kanade-fleet/kanade/internal/sign"
)

func statement() Statement {
	sum := sha256.Sum256([]byte("binary"))
	return Statement{Version: "1.2.3", OS: "linux", Arch: "amd64", SHA256: hex.EncodeToString(sum[:]), Size: 6}
}

func TestSignVerify(t *testing.T) {
	s1, _ := sign.GenerateKey()
	s2, _ := sign.GenerateKey()
	kr := sign.NewKeyring(s1.Public())
	st := statement()
	h := Sign(s1, st)
	if err := Verify(kr, st, h); err != nil {
		t.Fatal(err)
	}
	// Any changed field breaks the signature.
	for _, mod := range []func(*Statement){
		func(s *Statement) { s.Version = "1.2.4" }, func(s *Statement) { s.OS = "darwin" },
		func(s *Statement) { s.Arch = "arm64" }, func(s *Statement) { s.Size = 7 },
		func(s *Statement) { s.SHA256 = s.SHA256[:63] + "0" },
	} {
		m := st
		mod(&m)
		if err := Verify(kr, m, h); !errors.Is(err, sign.ErrBadSignature) {
			t.Errorf("modified %+v: %v, want bad signature", m, err)
		}
	}
	if err := Verify(kr, st, Sign(s2, st)); !errors.Is(err, sign.ErrUnknownKey) {
		t.Errorf("other key: %v", err)
	}
	if err := Verify(kr, st, nil); !errors.Is(err, sign.ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
	// A command signature over the same bytes on a command subject is not
	// a release signature.
	if err := Verify(kr, st, s1.Sign("commands.all", st.Payload())); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("command signature accepted as a release: %v", err)
	}
	if KeyID(h) != s1.KeyID() {
		t.Errorf("KeyID = %q", KeyID(h))
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	st := statement()
	got, err := FromMetadata(st.Name(), st.Metadata())
	if err != nil || got != st {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := FromMetadata(ObjectName("9.9", "linux", "amd64"), st.Metadata()); err == nil {
		t.Error("statement of another object accepted")
	}
	md := st.Metadata()
	md[MetaSHA256] = "XYZ"
	var fe *FieldError
	if _, err := FromMetadata(st.Name(), md); !errors.As(err, &fe) || fe.Field != "sha256" {
		t.Errorf("bad digest: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, v := range []string{"1.2.3", "v2", "1.0.0-rc.1+build.5", "dev"} {
		if err := ValidVersion(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
		n := ObjectName(v, "windows", "arm64")
		gv, gos, ga, ok := ParseObjectName(n)
		if !ok || gv != v || gos != "windows" || ga != "arm64" {
			t.Errorf("%q → %q %q %q %v", n, gv, gos, ga, ok)
		}
	}
	for _, v := range []string{"", "-1", "1/2", "a b", "1.2\n", "x{{name()}}", string(make([]byte, 65))} {
		if ValidVersion(v) == nil {
			t.Errorf("%q accepted", v)
		}
	}
	for _, n := range []string{"other/1/linux-amd64", "kanade-agent/1/linux", "kanade-agent/1/plan9-amd64", "kanade-agent/1"} {
		if _, _, _, ok := ParseObjectName(n); ok {
			t.Errorf("%q parsed", n)
		}
	}
}

// FuzzFromMetadata: metadata comes from the broker (any writer of the
// object store); it never panics and what it accepts validates and names
// the object.
func FuzzFromMetadata(f *testing.F) {
	st := statement()
	md := st.Metadata()
	f.Add(st.Name(), md[MetaVersion], md[MetaOS], md[MetaArch], md[MetaSHA256], md[MetaSize])
	f.Add("kanade-agent/x/linux-amd64", "x", "linux", "amd64", "", "-1")
	f.Fuzz(func(t *testing.T, name, v, o, a, sum, size string) {
		got, err := FromMetadata(name, map[string]string{MetaVersion: v, MetaOS: o, MetaArch: a, MetaSHA256: sum, MetaSize: size})
		if err != nil {
			return
		}
		if got.Validate() != nil || got.Name() != name {
			t.Fatalf("accepted %+v for %q", got, name)
		}
	})
}
