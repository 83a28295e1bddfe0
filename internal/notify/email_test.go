package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// selfSigned is a certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mailbox is a local SMTP server's received mail.
type mailbox struct {
	mu   sync.Mutex
	msgs []received
}

type received struct {
	from string
	to   []string
	data string
	tls  bool
}

func (m *mailbox) all() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.msgs...)
}

type session struct {
	box *mailbox
	c   *smtp.Conn
	cur received
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	_, s.cur.tls = s.c.TLSConnectionState()
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

func TestEmailOverSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, c: c}, nil }))
	srv.Domain = "smtp.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	e.addChannel(notify.Channel{ID: "mail", Name: "Ops mail", Type: notify.TypeEmail, MinSeverity: "warning",
		To:   []string{"ops@example.org", "oncall@example.org"},
		SMTP: &notify.SMTP{Host: "127.0.0.1", Port: port, From: "kanade@example.org", StartTLS: true, InsecureSkipVerify: true}})
	at := base()
	for _, pc := range []string{"pc-1", "pc-2", "pc-3"} {
		e.src.add(tr("disk-usage", pc, notify.TransitionOpened, "critical", at))
	}
	e.src.add(tr("disk-usage", "pc-4", notify.TransitionOpened, "info", at)) // below min_severity
	if n := e.tick(e.dispatcher(nil)); n != 1 {
		t.Fatalf("queued %d", n)
	}
	e.sender(e.js, nil)
	eventually(t, 15*time.Second, "the e-mail", func() bool { return len(box.all()) == 1 && e.settled() })
	got := box.all()[0]
	if !got.tls {
		t.Fatal("mail was sent without STARTTLS")
	}
	if got.from != "kanade@example.org" || strings.Join(got.to, ",") != "ops@example.org,oncall@example.org" {
		t.Fatalf("envelope %q → %q", got.from, got.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	if s := msg.Header.Get("Subject"); s != "[kanade] CRITICAL: check disk-usage failing on 3 PCs" {
		t.Fatalf("subject %q", s)
	}
	body, _ := io.ReadAll(msg.Body)
	for _, want := range []string{"Check: disk-usage", "PCs (3): pc-1, pc-2, pc-3", "Severity: critical"} {
		if !strings.Contains(strings.ReplaceAll(string(body), "\r\n", "\n"), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	as := e.attempts()
	if len(as) != 1 || as[0].Status != wire.AttemptDelivered || as[0].ChannelType != notify.TypeEmail {
		t.Fatalf("attempts %+v", as)
	}
}

func TestEmailRefusesServerWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, c: c}, nil }))
	srv.Domain = "smtp.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	e.addChannel(notify.Channel{ID: "mail", Name: "Ops mail", Type: notify.TypeEmail, MinSeverity: "info", To: []string{"ops@example.org"},
		SMTP: &notify.SMTP{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "kanade@example.org", StartTLS: true}})
	e.src.add(tr("disk-usage", "pc-1", notify.TransitionOpened, "critical", base()))
	e.tick(e.dispatcher(nil))
	e.sender(e.js, nil)
	eventually(t, 10*time.Second, "a failed attempt", func() bool {
		as := e.attempts()
		return len(as) > 0 && as[0].Status == wire.AttemptFailed
	})
	if len(box.all()) != 0 {
		t.Fatal("mail sent in clear text to a server without STARTTLS")
	}
}
