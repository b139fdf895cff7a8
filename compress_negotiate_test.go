package websocket

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// ---- negotiation ----

func TestExtension_negotiation(t *testing.T) {
	t.Parallel()
	const (
		pmd  = "permessage-deflate"
		snct = "; server_no_context_takeover"
		cnct = "; client_no_context_takeover"
	)
	cases := []struct {
		name     string
		lines    []string
		takeover bool
		want     string // "" = declined
		p        deflateParams
	}{
		// RFC 7692 §7 / §7.1 examples.
		{"plain offer, no takeover", []string{"permessage-deflate"}, false, pmd + snct + cnct,
			deflateParams{true, true, 15, 15}},
		{"plain offer, takeover", []string{"permessage-deflate"}, true, pmd,
			deflateParams{false, false, 15, 15}},
		{"client_max_window_bits without value (Chrome)", []string{"permessage-deflate; client_max_window_bits"}, true, pmd,
			deflateParams{false, false, 15, 15}},
		{"client_max_window_bits=10", []string{"permessage-deflate; client_max_window_bits=10"}, true, pmd + "; client_max_window_bits=10",
			deflateParams{false, false, 15, 10}},
		{"§7.1.3 first offer limits the server window", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, true,
			pmd + snct + "; server_max_window_bits=10", deflateParams{true, false, 10, 15}},
		{"server_max_window_bits=15 keeps takeover", []string{"permessage-deflate; server_max_window_bits=15"}, true,
			pmd + "; server_max_window_bits=15", deflateParams{false, false, 15, 15}},
		{"both no_context_takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true,
			pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"client_no_context_takeover hint echoed", []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits"}, true,
			pmd + cnct, deflateParams{false, true, 15, 15}},
		{"window bits 8 both", []string{"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"}, false,
			pmd + snct + cnct + "; server_max_window_bits=8; client_max_window_bits=8", deflateParams{true, true, 8, 8}},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`}, true,
			pmd + snct + "; server_max_window_bits=10", deflateParams{true, false, 10, 15}},
		{"quoted value with escape", []string{`permessage-deflate; client_max_window_bits="1\2"`}, true,
			pmd + "; client_max_window_bits=12", deflateParams{false, false, 15, 12}},
		{"case-insensitive names", []string{"PerMessage-Deflate; Server_No_Context_Takeover"}, true,
			pmd + snct, deflateParams{true, false, 15, 15}},
		{"whitespace", []string{" \tpermessage-deflate \t;\t server_max_window_bits = 9 "}, true,
			pmd + snct + "; server_max_window_bits=9", deflateParams{true, false, 9, 15}},
		{"empty list elements", []string{" , ,permessage-deflate,,"}, false, pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"other extension first", []string{"x-webkit-deflate-frame, permessage-deflate"}, false, pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"several header lines", []string{"foo; bar=\"a,b\"", "permessage-deflate; client_max_window_bits=9"}, true,
			pmd + "; client_max_window_bits=9", deflateParams{false, false, 15, 9}},

		// Offers declined one by one; the next acceptable one wins.
		{"unknown parameter", []string{"permessage-deflate; foo, permessage-deflate; server_no_context_takeover"}, true,
			pmd + snct, deflateParams{true, false, 15, 15}},
		{"duplicate parameter", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"server_max_window_bits without value", []string{"permessage-deflate; server_max_window_bits, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"window bits out of range", []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=16, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"window bits leading zero", []string{"permessage-deflate; server_max_window_bits=010, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"no_context_takeover with a value", []string{"permessage-deflate; server_no_context_takeover=1, permessage-deflate; client_no_context_takeover=\"x\""}, true, "", deflateParams{}},
		{"trailing semicolon", []string{"permessage-deflate;, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"garbage after name", []string{"permessage-deflate x; y, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"quoted value not a token", []string{`permessage-deflate; server_max_window_bits="1 0", permessage-deflate`}, true, pmd, deflateParams{false, false, 15, 15}},
		{"empty value", []string{"permessage-deflate; client_max_window_bits=, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"comma inside quotes skipped", []string{`permessage-deflate; a="x,permessage-deflate", permessage-deflate; client_no_context_takeover`}, true,
			pmd + cnct, deflateParams{false, true, 15, 15}},

		// Declined outright.
		{"no header", nil, true, "", deflateParams{}},
		{"only other extensions", []string{"foo, bar; baz=1"}, true, "", deflateParams{}},
		{"unterminated quote declines all", []string{"permessage-deflate, foo; a=\"x"}, true, "", deflateParams{}},
		{"unterminated quote on another line", []string{"permessage-deflate", "foo; a=\"x\\\""}, true, "", deflateParams{}},
		{"name missing", []string{"; server_no_context_takeover"}, true, "", deflateParams{}},
		{"non-ASCII", []string{"permessage-deflate\xff"}, true, "", deflateParams{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, answer, ok := negotiateDeflate(tc.lines, tc.takeover)
			if answer != tc.want || ok != (tc.want != "") {
				t.Fatalf("answer %q (ok %v), want %q", answer, ok, tc.want)
			}
			if ok && p != tc.p {
				t.Fatalf("params %+v, want %+v", p, tc.p)
			}
		})
	}
}

func TestExtension_upgradeAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		u      Upgrader
		offer  string
		answer string
	}{
		{"disabled", Upgrader{}, "permessage-deflate", ""},
		{"enabled", Upgrader{EnableCompression: true}, "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"takeover", Upgrader{EnableCompression: true, CompressionContextTakeover: true}, "permessage-deflate; client_max_window_bits", "permessage-deflate"},
		{"declined", Upgrader{EnableCompression: true}, "permessage-deflate; bogus", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			addr := serve(t, &u, func(c *Conn) {
				if (c.pmd != nil) != (tc.answer != "") {
					t.Errorf("pmd = %v, answer %q", c.pmd, tc.answer)
				}
				c.Close()
			})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n", addr, tc.offer)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(nc)
			var got string
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if line == "\r\n" {
					break
				}
				if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Extensions") {
					got = strings.TrimSpace(v)
				}
			}
			if got != tc.answer {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, tc.answer)
			}
		})
	}
}

// FuzzExtensionHeader checks that the parser never panics and that every
// answer is itself a well-formed, acceptable offer with the same
// parameters.
func FuzzExtensionHeader(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
		`permessage-deflate; server_max_window_bits="9"; client_no_context_takeover`,
		`foo; a="x,y\"z", permessage-deflate; server_no_context_takeover`,
		"permessage-deflate; a=\"",
		", ,;=",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, takeover bool) {
		lines := strings.Split(s, "\n")
		p, answer, ok := negotiateDeflate(lines, takeover)
		if !ok {
			if answer != "" {
				t.Fatalf("declined with answer %q", answer)
			}
			return
		}
		if p.serverBits < 8 || p.serverBits > 15 || p.clientBits < 8 || p.clientBits > 15 {
			t.Fatalf("window bits out of range: %+v", p)
		}
		if !takeover && (!p.serverNoTakeover || !p.clientNoTakeover) {
			t.Fatalf("takeover without permission: %+v", p)
		}
		p2, answer2, ok2 := negotiateDeflate([]string{answer}, true)
		if !ok2 || answer2 != answer || p2 != p {
			t.Fatalf("answer %q re-negotiates to %q %+v (ok %v), want %+v", answer, answer2, p2, ok2, p)
		}
	})
}
