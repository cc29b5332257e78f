package datacloudtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Running is the emulator listening on a loopback address.
type Running struct {
	URL string // "http://127.0.0.1:port" or "https://127.0.0.1:port"
	// CACertFile is, under TLS, a PEM file holding the listener's self-signed certificate:
	// usable as SSL_CERT_FILE by a child process. Empty over plain HTTP.
	CACertFile string
	// CertPool trusts the listener's certificate (nil over plain HTTP).
	CertPool *x509.CertPool

	srv *http.Server
	ln  net.Listener
	dir string
}

// Client returns an http.Client that trusts the listener (a plain client over HTTP).
func (r *Running) Client() *http.Client {
	if r.CertPool == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.CertPool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Close stops the listener and removes the CA file.
func (r *Running) Close() error {
	err := r.srv.Close()
	if r.dir != "" {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}

// Start serves s over plain HTTP on 127.0.0.1 and a free port. It panics when no
// loopback port is free, as httptest does.
func (s *Server) Start() *Running {
	r, err := s.Listen("127.0.0.1:0", false)
	if err != nil {
		panic(err)
	}
	return r
}

// StartTLS serves s over TLS (HTTP/1.1) on 127.0.0.1 and a free port, with a fresh
// self-signed certificate for 127.0.0.1, ::1 and localhost.
func (s *Server) StartTLS() *Running {
	r, err := s.Listen("127.0.0.1:0", true)
	if err != nil {
		panic(err)
	}
	return r
}

// Listen serves s on addr, which must be a loopback address (tokens and test data must
// never be reachable from the network).
func (s *Server) Listen(addr string, useTLS bool) (*Running, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("datacloudtest: listen: %w", err)
	}
	r := &Running{ln: ln, srv: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	r.URL = "http://" + ln.Addr().String()
	if useTLS {
		if err := r.setupTLS(); err != nil {
			ln.Close()
			return nil, err
		}
		r.URL = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, r.srv.TLSConfig)
	}
	go r.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close.
	return r, nil
}

func (r *Running) setupTLS() error {
	certPEM, keyPEM, err := tlsKeyPair()
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("datacloudtest: tls key pair: %w", err)
	}
	dir, err := os.MkdirTemp("", "datacloudtest-ca-")
	if err != nil {
		return fmt.Errorf("datacloudtest: ca dir: %w", err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("datacloudtest: write ca file: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	r.dir, r.CACertFile, r.CertPool = dir, file, pool
	// HTTP/1.1 only: fault injection hijacks connections.
	r.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	return nil
}

// CheckLoopback returns an error unless addr ("host:port") names a loopback host.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("datacloudtest: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("datacloudtest: address %q is not a loopback address", addr)
	}
	return nil
}
