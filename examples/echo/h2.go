package main

// -h2: the same echo server over HTTPS, where browsers reach it over
// HTTP/2 and open wss:// WebSockets as RFC 8441 extended CONNECT streams
// on that same connection.
//
//	GODEBUG=http2xconnect=1 go run ./examples/echo -h2   # https://localhost:8080/
//
// What an operator must set, all shown here:
//   - GODEBUG=http2xconnect=1 in the environment of the process, at its
//     start: net/http reads it in an init function, so neither //go:debug
//     nor os.Setenv can turn it on later. It makes the HTTP/2 server send
//     SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3) and accept
//     :protocol. Without it browsers quietly use HTTP/1.1 for wss://.
//   - TLS with "h2" in the ALPN list: browsers speak HTTP/2 only over TLS.
//   - Upgrader.EnableHTTP2, since once the setting is advertised Chromium
//     and Firefox do not fall back to HTTP/1.1 when a CONNECT is refused.
//   - http.Server.ReadHeaderTimeout, as for any public server.
//
// The certificate is self-signed, made at start for localhost, 127.0.0.1
// and ::1, and lives only in memory: a browser warns once (or run
// Chromium with --ignore-certificate-errors); node needs
// rejectUnauthorized: false.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"log"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

var h2Flag = flag.Bool("h2", false, "serve HTTPS (self-signed, loopback) with HTTP/2 and WebSockets over HTTP/2 (RFC 8441); needs GODEBUG=http2xconnect=1")

// listen returns the server's listener: plain TCP, or with -h2 a TLS
// listener that offers h2 and http/1.1, after checking GODEBUG and
// enabling HTTP/2 WebSockets on the upgrader. http.Server.Serve speaks
// HTTP/2 on a TLS listener whose connections negotiated "h2".
func listen(addr string) (net.Listener, error) {
	if !*h2Flag {
		return net.Listen("tcp", addr)
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		return nil, errors.New("echo -h2: start the process with GODEBUG=http2xconnect=1 " +
			"(net/http reads it at init; without it browsers open wss:// over HTTP/1.1)")
	}
	cert, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return nil, errors.New("echo -h2: the self-signed certificate is for loopback only; use -addr localhost:PORT")
	}
	upgrader.EnableHTTP2 = true // the echo handler runs its Conn to the end, as HTTP/2 requires
	log.Printf("echo -h2: serving https://%s/ (HTTP/2 and HTTP/1.1, self-signed) and wss://%s/echo", ln.Addr(), ln.Addr())
	return tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}), nil
}

// selfSignedCert makes a P-256 certificate for localhost, valid for a day.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "echo -h2 (self-signed)"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
