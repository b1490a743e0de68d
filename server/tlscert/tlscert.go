// Package tlscert makes and keeps the self-signed certificate pneumoscan serves HTTPS with
// when a clinic has no certificate of its own (server -tls-self-signed DIR).
//
// The certificate is an ECDSA P-256 server certificate (not a CA, so browsers accept it as a
// trusted end entity once a user trusts it) for localhost, 127.0.0.1, ::1, the machine's
// host name and any extra names asked for. It is made once and reused, so its SHA-256
// fingerprint stays the same across restarts and a clinic verifies it only once.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"
	"slices"
	"strings"
	"time"
)

// File names inside the certificate folder.
const (
	CertName = "cert.pem"
	KeyName  = "key.pem"
)

// Validity is how long a new certificate is valid: 825 days, the longest Apple platforms
// accept for a TLS server certificate.
const Validity = 825 * 24 * time.Hour

// renewBefore: a certificate expiring sooner than this is replaced at start-up.
const renewBefore = 30 * 24 * time.Hour

// Cert describes the certificate in use.
type Cert struct {
	CertFile, KeyFile string
	// Fingerprint is the SHA-256 of the certificate's DER bytes as colon-separated
	// upper-case hex, the form browsers show.
	Fingerprint string
	Names       []string // DNS names and IP addresses the certificate is valid for
	NotAfter    time.Time
	// Created is true when this call made the certificate; Reason says why (no certificate
	// yet, expiring, names missing, unreadable).
	Created bool
	Reason  string
}

// DefaultNames are the names every self-signed certificate covers: the loopback names and
// the machine's host name (when it has one).
func DefaultNames() []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	return names
}

// Ensure returns the certificate kept in dir, creating it when there is none, when it
// expires within 30 days, when it is unreadable or does not match its key, or when it lacks
// one of the names asked for (DefaultNames plus extra). A certificate that is fine is reused
// unchanged. dir is created with mode 0700; the key is written with mode 0600.
func Ensure(dir string, extra []string) (Cert, error) {
	names := normalise(append(DefaultNames(), extra...))
	c := Cert{CertFile: filepath.Join(dir, CertName), KeyFile: filepath.Join(dir, KeyName)}
	reason := "no certificate yet"
	if cert, err := load(c.CertFile, c.KeyFile); err == nil {
		missing := missingNames(cert, names)
		switch {
		case time.Until(cert.NotAfter) < renewBefore:
			reason = "the old one expires " + cert.NotAfter.Format(time.DateOnly)
		case len(missing) > 0:
			reason = "the old one lacks " + strings.Join(missing, ", ")
		default:
			c.Fingerprint, c.Names, c.NotAfter = Fingerprint(cert.Raw), certNames(cert), cert.NotAfter
			return c, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		reason = "the old one is unusable: " + err.Error()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Cert{}, err
	}
	certPEM, keyPEM, cert, err := generate(names, time.Now())
	if err != nil {
		return Cert{}, err
	}
	// The key first: a crash between the two leaves a new key with an old certificate,
	// which the next start finds mismatched and replaces.
	if err := writeAtomic(c.KeyFile, keyPEM, 0o600); err != nil {
		return Cert{}, err
	}
	if err := writeAtomic(c.CertFile, certPEM, 0o644); err != nil {
		return Cert{}, err
	}
	c.Fingerprint, c.Names, c.NotAfter, c.Created, c.Reason = Fingerprint(cert.Raw), certNames(cert), cert.NotAfter, true, reason
	return c, nil
}

// Fingerprint is the SHA-256 of a certificate's DER bytes, e.g. "AB:CD:...".
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// FileFingerprint reads a PEM certificate file (its first certificate: the server's own) and
// returns its fingerprint.
func FileFingerprint(certFile string) (string, error) {
	pair, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(pair)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s: no PEM certificate", certFile)
	}
	return Fingerprint(blk.Bytes), nil
}

// load reads the pair and checks that the key matches the certificate.
func load(certFile, keyFile string) (*x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if _, serr := os.Stat(certFile); errors.Is(serr, os.ErrNotExist) {
			return nil, serr
		}
		return nil, err
	}
	return x509.ParseCertificate(pair.Certificate[0])
}

func generate(names []string, now time.Time) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pneumoscan self-signed", Organization: []string{"pneumoscan"}},
		NotBefore:             now.Add(-time.Hour), // tolerate a client clock slightly behind
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, cert, nil
}

// normalise drops empty names and duplicates, lower-cases DNS names and writes IPs in
// their canonical form.
func normalise(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if ip := net.ParseIP(strings.Trim(n, "[]")); ip != nil {
			n = ip.String()
		} else {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

func missingNames(c *x509.Certificate, names []string) []string {
	var missing []string
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// writeAtomic writes data with its final mode through atomicfile, so no reader ever sees
// half a key or a key with loose permissions.
func writeAtomic(name string, data []byte, mode os.FileMode) error {
	return atomicfile.WriteMode(name, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
