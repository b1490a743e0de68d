package tlscert

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func readCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	c1, err := Ensure(dir, []string{"scanner.clinic.lan", "10.1.2.3", ""})
	if err != nil {
		t.Fatal(err)
	}
	if !c1.Created {
		t.Error("first call did not report a new certificate")
	}
	cert := readCert(t, c1.CertFile)
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key is %T, want ECDSA", cert.PublicKey)
	}
	if cert.IsCA || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("IsCA %v, ExtKeyUsage %v: want a server (end-entity) certificate", cert.IsCA, cert.ExtKeyUsage)
	}
	want := append(DefaultNames(), "scanner.clinic.lan", "10.1.2.3")
	for _, n := range want {
		if err := cert.VerifyHostname(n); err != nil {
			t.Errorf("certificate not valid for %q: %v", n, err)
		}
	}
	if c1.Fingerprint != Fingerprint(cert.Raw) || len(c1.Fingerprint) != 32*3-1 {
		t.Errorf("fingerprint %q", c1.Fingerprint)
	}
	if fp, err := FileFingerprint(c1.CertFile); err != nil || fp != c1.Fingerprint {
		t.Errorf("FileFingerprint = %q, %v", fp, err)
	}
	for name, mode := range map[string]os.FileMode{c1.KeyFile: 0o600, dir: 0o700 | os.ModeDir} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode(), mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want cert and key only (no temporary files)", len(entries))
	}

	// Second start: same files, same certificate, nothing rewritten.
	before, _ := os.ReadFile(c1.KeyFile)
	c2, err := Ensure(dir, []string{"scanner.clinic.lan"})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(c1.KeyFile)
	if c2.Created || c2.Fingerprint != c1.Fingerprint || string(before) != string(after) {
		t.Errorf("second call: created %v, fingerprint %s (was %s), key rewritten %v", c2.Created, c2.Fingerprint, c1.Fingerprint, string(before) != string(after))
	}

	// A name the certificate lacks: a new certificate that has it.
	c3, err := Ensure(dir, []string{"other.clinic.lan"})
	if err != nil {
		t.Fatal(err)
	}
	if !c3.Created || c3.Fingerprint == c1.Fingerprint || readCert(t, c3.CertFile).VerifyHostname("other.clinic.lan") != nil {
		t.Errorf("new name: created %v, fingerprint changed %v", c3.Created, c3.Fingerprint != c1.Fingerprint)
	}
}

func TestEnsureReplacesBrokenPair(t *testing.T) {
	dir := t.TempDir()
	c1, err := Ensure(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another pair's key: the certificate no longer matches.
	other, err := Ensure(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(other.KeyFile)
	if err := os.WriteFile(c1.KeyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := Ensure(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Created || c2.Fingerprint == c1.Fingerprint {
		t.Errorf("mismatched key: created %v, reason %q", c2.Created, c2.Reason)
	}
	if _, err := tls.LoadX509KeyPair(c2.CertFile, c2.KeyFile); err != nil {
		t.Errorf("replaced pair does not load: %v", err)
	}
}

func TestExpiringIsRenewed(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, _, err := generate(DefaultNames(), time.Now().Add(-Validity+24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, CertName), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, KeyName), keyPEM, 0o600)
	c, err := Ensure(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created || time.Until(c.NotAfter) < Validity-48*time.Hour {
		t.Errorf("expiring certificate: created %v, not after %v", c.Created, c.NotAfter)
	}
}

// TestServeTLS serves HTTPS on a real loopback listener with the made certificate and
// connects with a client that trusts only that certificate, by IP and by name.
func TestServeTLS(t *testing.T) {
	c, err := Ensure(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+r.Proto)
	})}
	go srv.ServeTLS(ln, c.CertFile, c.KeyFile)
	t.Cleanup(func() { srv.Close() })

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(c.CertFile)
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("cannot add the certificate to a pool")
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	dial := func(network, addr string) (net.Conn, error) { return net.Dial(network, ln.Addr().String()) }
	for _, host := range []string{"127.0.0.1", "localhost"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Dial: dial}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		res, err := client.Get("https://" + net.JoinHostPort(host, port) + "/")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.TLS == nil || Fingerprint(res.TLS.PeerCertificates[0].Raw) != c.Fingerprint {
			t.Errorf("%s: %d %q tls %v", host, res.StatusCode, body, res.TLS != nil)
		}
		tr.CloseIdleConnections()
	}
	// A client that does not trust it must refuse it.
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/")
	if err == nil {
		res.Body.Close()
		t.Error("a client with the system roots accepted the self-signed certificate")
	}
}
