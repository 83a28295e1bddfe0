package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/kanade-fleet/kanade/internal/broker"
)

// brokerAuth loads --nats-auth-file, if any, and checks it against the
// broker mode: the embedded server needs all three role users, an external
// one only the backend's own credential.
func (b *Server) brokerAuth() (*broker.RoleCredentials, error) {
	cfg := b.Cfg
	if cfg.NATSIdentity && (cfg.NATSToken != "" || cfg.NATSAuthFile != "") {
		return nil, errors.New("--nats-identity excludes --nats-token and --nats-auth-file: every client has its own credential")
	}
	if cfg.NATSAuthFile == "" {
		return nil, nil
	}
	if cfg.NATSToken != "" {
		return nil, errors.New("--nats-token and --nats-auth-file are exclusive: per-role users replace the shared token")
	}
	f, err := broker.LoadAuthFile(cfg.NATSAuthFile)
	if err != nil {
		return nil, err
	}
	if f.Permissive {
		b.Log.Warn("the nats auth file can be read by other local users; chmod 600 it", "file", cfg.NATSAuthFile)
	}
	if cfg.NATSURL == "" {
		err = f.ValidateEmbedded()
	} else {
		err = f.ValidateExternal()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.NATSAuthFile, err)
	}
	return &f.RoleCredentials, nil
}

// brokerAuthMode names the embedded broker's client auth for the log, and
// warns loudly when a broker reachable from the network accepts anyone:
// whoever connects could send commands.all to every PC.
func brokerAuthMode(token string, creds *broker.RoleCredentials, addr string, log *slog.Logger) string {
	switch {
	case creds != nil:
		return "per-role users"
	case token != "":
		log.Warn("the broker uses one shared token for every PC: any PC's token can impersonate any other and read every command; it is meant for --dev and tests — run without --nats-token for per-agent identities (SPEC §12)")
		return "shared token"
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Warn("the embedded NATS server accepts unauthenticated clients on a non-loopback address: anyone who can reach it can run scripts on every PC; set --nats-auth-file (or at least --nats-token)",
			"nats_addr", addr)
	}
	return "none"
}

// loadTLS returns the API's TLS configuration (nil without a certificate).
// The key pair is loaded now, so a bad file fails the start, and reloaded
// when the files change (certificate renewal without a restart).
func loadTLS(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}, nil
}

// certReloadEvery bounds how often the certificate files are stat'ed.
var certReloadEvery = 30 * time.Second

type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // mtimes and sizes of the loaded files
	checked time.Time
}

func (r *certReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return s, nil
}

// load reads the key pair; the caller holds mu or is the constructor.
func (r *certReloader) load() error {
	stamp, err := r.fileStamp()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s / %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp, r.checked = &c, stamp, time.Now()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= certReloadEvery {
		r.checked = time.Now()
		if stamp, err := r.fileStamp(); err == nil && stamp != r.stamp {
			if err := r.load(); err != nil {
				// A half-written renewal: keep serving the old pair.
				r.log.Warn("TLS certificate changed but cannot be loaded; keeping the previous one", "error", err)
			} else {
				r.log.Info("TLS certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}
