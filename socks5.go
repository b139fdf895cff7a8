package websocket

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// The SOCKS version 5 client (RFC 1928) with the username/password method
// (RFC 1929), enough for Dialer.Proxy's socks5:// and socks5h:// URLs:
// one CONNECT, the host name sent to the proxy for it to resolve (as
// golang.org/x/net/proxy does for both schemes), IP literals sent as
// addresses.

const (
	socksVersion     = 5
	socksNoAuth      = 0x00 // RFC 1928 §3
	socksUserPass    = 0x02
	socksNoMethod    = 0xFF
	socksCmdConnect  = 0x01 // RFC 1928 §4
	socksAtypIPv4    = 0x01
	socksAtypDomain  = 0x03
	socksAtypIPv6    = 0x04
	socksUserPassVer = 0x01 // RFC 1929 §2
)

// socksReplies are the REP values of RFC 1928 §6, for error messages.
var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// socks5Connect runs the client side of a SOCKS5 CONNECT to hostPort on
// nc, a fresh connection to the proxy: method selection, the RFC 1929
// sub-negotiation when proxyURL has credentials and the proxy asks for
// them, then the request and its reply. It reads exactly the reply's
// bytes, so what follows belongs to the tunnel.
func socks5Connect(nc net.Conn, proxyURL *url.URL, hostPort string) error {
	req, err := socksConnectRequest(hostPort)
	if err != nil {
		return err
	}
	methods := []byte{socksVersion, 1, socksNoAuth}
	if proxyURL.User != nil {
		methods = []byte{socksVersion, 2, socksNoAuth, socksUserPass}
	}
	if _, err := nc.Write(methods); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(nc, sel[:]); err != nil {
		return socksErr("reading the method selection", err)
	}
	switch {
	case sel[0] != socksVersion:
		return errors.New("websocket: socks5 proxy answered with version " + strconv.Itoa(int(sel[0])))
	case sel[1] == socksNoAuth:
	case sel[1] == socksUserPass && proxyURL.User != nil:
		if err := socksAuthenticate(nc, proxyURL.User); err != nil {
			return err
		}
	case sel[1] == socksNoMethod:
		return errors.New("websocket: socks5 proxy accepts none of the offered authentication methods")
	default:
		return errors.New("websocket: socks5 proxy chose authentication method " + strconv.Itoa(int(sel[1])) + ", which was not offered")
	}
	if _, err := nc.Write(req); err != nil {
		return err
	}
	return socksReadReply(nc)
}

// socksConnectRequest builds the CONNECT request of RFC 1928 §4.
func socksConnectRequest(hostPort string) ([]byte, error) {
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, errors.New("websocket: bad port " + quoteASCII(portStr))
	}
	req := []byte{socksVersion, socksCmdConnect, 0}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
		if ip.Is4() || ip.Is4In6() {
			a := ip.Unmap().As4()
			req = append(append(req, socksAtypIPv4), a[:]...)
		} else {
			a := ip.As16()
			req = append(append(req, socksAtypIPv6), a[:]...)
		}
	} else {
		if len(host) == 0 || len(host) > 255 {
			return nil, errors.New("websocket: host name too long for socks5: " + quoteASCII(host))
		}
		req = append(append(req, socksAtypDomain, byte(len(host))), host...)
	}
	return append(req, byte(port>>8), byte(port)), nil
}

// socksAuthenticate sends the username and password (RFC 1929 §2) and
// reads the verdict.
func socksAuthenticate(nc net.Conn, user *url.Userinfo) error {
	name := user.Username()
	pass, _ := user.Password()
	if len(name) == 0 || len(name) > 255 || len(pass) > 255 {
		return errors.New("websocket: socks5 username must be 1 to 255 bytes and password at most 255")
	}
	msg := append([]byte{socksUserPassVer, byte(len(name))}, name...)
	msg = append(append(msg, byte(len(pass))), pass...)
	if _, err := nc.Write(msg); err != nil {
		return err
	}
	var status [2]byte
	if _, err := io.ReadFull(nc, status[:]); err != nil {
		return socksErr("reading the authentication status", err)
	}
	if status[1] != 0 {
		return errors.New("websocket: socks5 proxy refused the username and password")
	}
	return nil
}

// socksReadReply reads the reply to CONNECT (RFC 1928 §6), bound address
// included, and turns a failure code into an error.
func socksReadReply(nc net.Conn) error {
	var head [5]byte // VER REP RSV ATYP and the first address byte
	if _, err := io.ReadFull(nc, head[:]); err != nil {
		return socksErr("reading the reply", err)
	}
	if head[0] != socksVersion {
		return errors.New("websocket: socks5 proxy answered with version " + strconv.Itoa(int(head[0])))
	}
	if rep := head[1]; rep != 0 {
		msg := "code " + strconv.Itoa(int(rep))
		if int(rep) < len(socksReplies) {
			msg = socksReplies[rep]
		}
		return errors.New("websocket: socks5 proxy refused the connection: " + msg)
	}
	var rest int // the address bytes after the first, and the port
	switch head[3] {
	case socksAtypIPv4:
		rest = 4 - 1 + 2
	case socksAtypIPv6:
		rest = 16 - 1 + 2
	case socksAtypDomain:
		rest = int(head[4]) + 2
	default:
		return errors.New("websocket: socks5 reply has address type " + strconv.Itoa(int(head[3])))
	}
	if _, err := io.ReadFull(nc, make([]byte, rest)); err != nil {
		return socksErr("reading the reply", err)
	}
	return nil
}

func socksErr(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("websocket: socks5 proxy closed the connection while " + what)
	}
	return err
}
