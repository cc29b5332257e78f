package datacloudtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

// KeyPair is an RSA key with a self-signed certificate, as a connected app uses for the
// JWT bearer flow. The PEM fields are what an operator pastes into the credentials secret
// (either key form) and into the connected app (the certificate).
type KeyPair struct {
	Key      *rsa.PrivateKey
	PKCS1PEM string // PEM block type "RSA PRIVATE KEY" (PKCS#1)
	PKCS8PEM string // PEM block type "PRIVATE KEY" (PKCS#8)
	CertPEM  string // "-----BEGIN CERTIFICATE-----"
}

// PublicKey returns the key pair's public key.
func (k *KeyPair) PublicKey() *rsa.PublicKey { return &k.Key.PublicKey }

// GenerateKeyPair makes a 2048-bit RSA key and a self-signed certificate valid for a year.
func GenerateKeyPair() (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("datacloudtest: generate rsa key: %w", err)
	}
	der, err := selfSigned(key, &key.PublicKey, "datacloudtest connected app")
	if err != nil {
		return nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("datacloudtest: marshal pkcs8: %w", err)
	}
	return &KeyPair{
		Key:      key,
		PKCS1PEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		PKCS8PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		CertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	}, nil
}

// NewKeyPair is GenerateKeyPair for tests: it fails tb on error.
func NewKeyPair(tb testing.TB) *KeyPair {
	tb.Helper()
	kp, err := GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// selfSigned returns a DER certificate for pub signed by priv, valid for loopback names
// so the same helper serves the TLS listener.
func selfSigned(priv crypto.Signer, pub crypto.PublicKey, cn string) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("datacloudtest: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"datacloudtest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("datacloudtest: create certificate: %w", err)
	}
	return der, nil
}

// tlsKeyPair makes an ECDSA key and self-signed loopback certificate for the TLS listener.
func tlsKeyPair() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("datacloudtest: generate tls key: %w", err)
	}
	der, err := selfSigned(key, &key.PublicKey, "datacloudtest emulator")
	if err != nil {
		return nil, nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("datacloudtest: marshal tls key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), nil
}
