package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// selfSigned writes a certificate for 127.0.0.1 named cn and its key.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return certFile, keyFile, cert
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestTLS serves the API over HTTPS with a self-signed certificate, refuses
// plain HTTP on that port, sets HSTS, and picks up a renewed certificate.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "first")
	// Check the files at every handshake, so the renewal below is seen at
	// once (set before the server starts: handshakes read it).
	certReloadEvery = 0
	t.Cleanup(func() { certReloadEvery = 30 * time.Second })
	b, err := New(context.Background(), Config{Auth: auth.Config{Disabled: true}, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), NATSAddr: "127.0.0.1:0",
		CleanupInterval: time.Hour, Log: quietLog(), TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Stop(ctx)
	})
	if !strings.HasPrefix(b.HTTPURL(), "https://") {
		t.Fatalf("HTTPURL %s", b.HTTPURL())
	}
	client := func(c *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(c)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	resp, err := client(cert).Get(b.HTTPURL() + "/api/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("https: status %d tls=%v hsts=%q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	// Plain HTTP on the TLS port gets no API.
	plain := strings.Replace(b.HTTPURL(), "https://", "http://", 1)
	if resp, err := http.Get(plain + "/api/version"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served the API on the TLS port")
		}
	}
	// An untrusted client refuses the self-signed certificate.
	if _, err := http.Get(b.HTTPURL() + "/health"); err == nil {
		t.Fatal("self-signed certificate accepted without the CA")
	}

	// Renewal: new files in place are served without a restart.
	_, _, renewed := selfSigned(t, dir, "renewed")
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client(renewed).Get(b.HTTPURL() + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.TLS.PeerCertificates[0].Subject.CommonName == "renewed" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "x")
	for _, c := range []struct{ cert, key, want string }{
		{certFile, "", "together"},
		{"", keyFile, "together"},
		{certFile, filepath.Join(dir, "missing.key"), "missing.key"},
		{keyFile, keyFile, "load"},
	} {
		if _, err := loadTLS(c.cert, c.key, quietLog()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cert=%q key=%q: %v, want an error containing %q", c.cert, c.key, err, c.want)
		}
	}
}

func TestBrokerAuthConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nats-auth.toml")
	if err := os.WriteFile(file, []byte("[backend]\nuser = \"b\"\npassword = \"$2a$10$hash\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{NATSToken: "tok", NATSAuthFile: file}, "exclusive"},
		{Config{NATSAuthFile: file}, "agent"},                                // embedded: all three roles
		{Config{NATSAuthFile: file, NATSURL: "nats://127.0.0.1:1"}, "plain"}, // external: the backend logs in
		{Config{NATSAuthFile: filepath.Join(t.TempDir(), "none.toml")}, "none.toml"},
	} {
		c.cfg.HTTPAddr, c.cfg.NATSAddr, c.cfg.DataDir, c.cfg.Log = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), quietLog()
		if b, err := New(context.Background(), c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			if b != nil {
				b.Stop(context.Background())
			}
			t.Errorf("%+v: %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}
