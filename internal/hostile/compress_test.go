package hostile

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// offerDeflate is the handshake header of a client offering
// permessage-deflate without context takeover.
var offerDeflate = http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; client_no_context_takeover"}}

// dialDeflate connects with permessage-deflate and fails unless the
// server accepted it.
func dialDeflate(t *testing.T, addr string) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, addr, "/", offerDeflate)
	if ext := c.Resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("server answered Sec-WebSocket-Extensions %q, want permessage-deflate", ext)
	}
	return c
}

// compressed returns a masked data frame carrying a compressed payload
// (RSV1 on the first frame of a message, RFC 7692 §6).
func compressed(op byte, fin bool, payload []byte) wstest.Frame {
	f := frag(op, fin, payload)
	if op != wstest.OpContinuation {
		f.Rsv = wstest.Rsv1
	}
	return f
}

// countLength answers each message with its length, as a short text
// message (under the compression threshold, so never compressed). It
// streams the message, so it holds none of it.
func countLength(c *websocket.Conn) error {
	for {
		_, r, err := c.NextReader()
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return err
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.FormatInt(n, 10))); err != nil {
			return err
		}
	}
}

// A compression bomb: a small compressed message that inflates far past
// the read limit. The inflated bytes count against the limit, so the
// server stops inflating there: 1009 to the peer, ErrReadLimit to the
// reader, and memory bounded by the limit (ReadMessage) or by nothing
// (a streaming reader), never by what the bomb would inflate to.
func TestCompressionBomb_closes1009(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    int64
		bombMiB  int
		fragment int // split the compressed payload into fragments of this size; 0: one frame
		handle   func(*websocket.Conn) error
		maxAlloc int64
	}{
		// 64 MiB of zeros in 64 KiB on the wire, against a 1 MiB limit.
		{"ReadMessage/limit1MiB", 1 << 20, 64, 0, readAll, 8 << 20},
		{"ReadMessage/limit1MiB/1KiBFragments", 1 << 20, 64, 1 << 10, readAll, 8 << 20},
		// 256 MiB in 256 KiB, against the default 32 MiB limit, read by a
		// streaming reader.
		{"NextReader/defaultLimit", 0, 256, 0, countLength, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableCompression: true, ReadLimit: tc.limit}, nil, tc.handle)
			c := dialDeflate(t, s.addr)
			bomb := zeroBomb(t, tc.bombMiB)
			var wire []byte
			if tc.fragment == 0 {
				wire = encode(compressed(wstest.OpBinary, true, bomb))
			} else {
				for i := 0; i < len(bomb); i += tc.fragment {
					op := wstest.OpBinary
					if i > 0 {
						op = wstest.OpContinuation
					}
					end := min(i+tc.fragment, len(bomb))
					wire = wstest.AppendFrame(wire, compressed(op, end == len(bomb), bomb[i:end]))
				}
			}
			t.Logf("bomb: %d bytes on the wire, %d MiB inflated", len(wire), tc.bombMiB)
			mem := probeMemory()
			go c.WriteRaw(wire) // the server stops reading at the limit
			c.ExpectClose(websocket.CloseMessageTooBig)
			if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
				t.Errorf("server read error = %v, want ErrReadLimit", err)
			}
			mem.finish().check(t, 0, tc.maxAlloc, 0)
		})
	}
}

// A bomb under the limit is just a message: 512 KiB of zeros from about
// 512 bytes, delivered whole.
func TestCompressionBomb_underLimit_delivered(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{EnableCompression: true, ReadLimit: 1 << 20}, nil, echo)
	c := dialDeflate(t, s.addr)
	payload := make([]byte, 512<<10)
	c.Send(compressed(wstest.OpBinary, true, deflateMessage(t, payload)))
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	// The echo comes back compressed; inflate it independently.
	if f.Rsv != wstest.Rsv1 || !f.Fin {
		t.Fatalf("echo frame %v, want one compressed final frame", f)
	}
	got := inflate(t, f.Payload)
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo inflates to %d bytes, want %d zero bytes", len(got), len(payload))
	}
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}

// Empty DEFLATE blocks inflate to nothing, so they never reach the read
// limit by their output. The limit also bounds a compressed message's
// wire bytes (with slack for incompressible data), so a peer cannot keep
// the server inflating nothing forever.
func TestCompressionBomb_emptyBlocks_closes1009(t *testing.T) {
	empty := bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 30_000) // 150 KB of empty stored blocks
	for _, fragment := range []int{0, 1 << 10} {
		t.Run("fragment="+strconv.Itoa(fragment), func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableCompression: true, ReadLimit: 64 << 10}, nil, countLength)
			c := dialDeflate(t, s.addr)
			var wire []byte
			if fragment == 0 {
				wire = encode(compressed(wstest.OpBinary, true, empty))
			} else {
				for i := 0; i < len(empty); i += fragment {
					op := wstest.OpBinary
					if i > 0 {
						op = wstest.OpContinuation
					}
					end := min(i+fragment, len(empty))
					wire = wstest.AppendFrame(wire, compressed(op, end == len(empty), empty[i:end]))
				}
			}
			mem := probeMemory()
			go c.WriteRaw(wire)
			c.ExpectClose(websocket.CloseMessageTooBig)
			if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
				t.Errorf("server read error = %v, want ErrReadLimit", err)
			}
			mem.finish().check(t, 0, 4<<20, 0)
		})
	}
}

// Invalid UTF-8 inside a compressed text message is found in the inflated
// bytes: 1007.
func TestCompression_invalidUTF8InInflatedText_closes1007(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{EnableCompression: true}, nil, readAll)
	c := dialDeflate(t, s.addr)
	c.Send(compressed(wstest.OpText, true, deflateMessage(t, []byte("valid text, then \xc0\xaf"))))
	c.ExpectCloseNext(websocket.CloseInvalidFramePayloadData)
	wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
}

// Malformed Sec-WebSocket-Extensions never fail the handshake: the offers
// the server cannot honour are declined, the connection works without
// compression (an RSV1 frame is then a protocol error), and a valid offer
// after a broken one is still accepted.
func TestExtensions_malformed_declinedHandshakeSucceeds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		accept bool
	}{
		{"windowBitsNotANumber", []string{"permessage-deflate; client_max_window_bits=abc"}, false},
		{"serverWindowBits7", []string{"permessage-deflate; server_max_window_bits=7"}, false},
		{"serverWindowBits16", []string{"permessage-deflate; server_max_window_bits=16"}, false},
		{"serverWindowBitsHuge", []string{"permessage-deflate; server_max_window_bits=99999999999999999999999"}, false},
		{"serverWindowBitsNoValue", []string{"permessage-deflate; server_max_window_bits"}, false},
		{"serverWindowBitsLeadingZero", []string{"permessage-deflate; server_max_window_bits=010"}, false},
		{"duplicateParam", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, false},
		{"unknownParam", []string{"permessage-deflate; foo=bar"}, false},
		{"valueOnFlag", []string{"permessage-deflate; client_no_context_takeover=yes"}, false},
		{"emptyParams", []string{"permessage-deflate;;"}, false},
		{"quotedSpace", []string{`permessage-deflate; client_max_window_bits="1 5"`}, false},
		{"unterminatedQuote", []string{`permessage-deflate; client_max_window_bits="15`}, false},
		{"unterminatedQuoteDeclinesAll", []string{`permessage-deflate, x; y="`}, false},
		{"unknownExtension", []string{"x-webkit-deflate-frame"}, false},
		{"onlySeparators", []string{";;;, ,;="}, false},
		{"8KiBOfCommas", []string{strings.Repeat(",", 8<<10)}, false},
		{"manyParams", []string{"permessage-deflate" + strings.Repeat("; client_no_context_takeover", 500)}, false},
		{"manyOffers", []string{strings.Repeat("permessage-deflate; server_max_window_bits=7, ", 1000)}, false},
		{"badThenGood", []string{"permessage-deflate; client_max_window_bits=abc, permessage-deflate"}, true},
		{"badLineThenGoodLine", []string{"permessage-deflate; bogus", "permessage-deflate; client_no_context_takeover"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableCompression: true}, nil, echo)
			c := wstest.Dial(t, s.addr, "/", http.Header{"Sec-WebSocket-Extensions": tc.values})
			ext := c.Resp.Header.Values("Sec-WebSocket-Extensions")
			if tc.accept {
				if len(ext) != 1 || !strings.HasPrefix(ext[0], "permessage-deflate") {
					t.Fatalf("Sec-WebSocket-Extensions %q, want the valid offer accepted", ext)
				}
				c.Send(compressed(wstest.OpText, true, deflateMessage(t, []byte("compressed hello"))))
				f, err := c.ReadFrame()
				if err != nil || f.Opcode != wstest.OpText || string(f.Payload) != "compressed hello" {
					t.Fatalf("echo: %v, %v; want the text uncompressed (under the threshold)", f, err)
				}
				c.Send(closeFrame(1000, ""))
				c.ExpectCloseNext(1000)
				wantCloseCode(t, s.result(t), 1000)
				return
			}
			if len(ext) != 0 {
				t.Fatalf("Sec-WebSocket-Extensions %q, want none (offer declined)", ext)
			}
			c.Send(text("plain hello"))
			c.ExpectMessage(wstest.OpText, []byte("plain hello"))
			c.Send(compressed(wstest.OpText, true, deflateMessage(t, []byte("not negotiated"))))
			c.ExpectCloseNext(websocket.CloseProtocolError)
			wantProtocolError(t, s.result(t), websocket.CloseProtocolError)
		})
	}
}

// Compressed data that is not DEFLATE, and a message that restarts its
// DEFLATE stream (a BFINAL block followed by more) more often than any
// sender needs to: 1007, the payload is not what it claims to be.
func TestCompression_corruptData_closes1007(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"reservedBlockType", []byte{0x07, 0x00, 0x00}}, // BTYPE 11
		{"storedLengthMismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'a'}},
		// copies from a preset dictionary the server does not have
		{"distanceBeforeStart", deflateWithDict(t, []byte("hello, world"), []byte("hello, world hello, world"))},
		// 1,000 final empty fixed-Huffman blocks, each restarting the stream
		{"endlessFinalBlocks", bytes.Repeat([]byte{0x03, 0x00}, 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableCompression: true}, nil, readAll)
			c := dialDeflate(t, s.addr)
			c.Send(compressed(wstest.OpBinary, true, tc.payload))
			c.ExpectCloseNext(websocket.CloseInvalidFramePayloadData)
			wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
		})
	}
}

// deflateWithDict compresses p as deflateMessage does, against a preset
// dictionary: the output copies from bytes before its start.
func deflateWithDict(t *testing.T, p, dict []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriterDict(&b, flate.BestCompression, dict)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(p)
	fw.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// The limit applies to the inflated message exactly: a bomb that inflates
// to the limit is a message; one byte more is 1009.
func TestCompressionBomb_limitBoundary(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name  string
		extra int // bytes over the limit
	}{{"atLimit", 0}, {"oneByteOver", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableCompression: true, ReadLimit: limit}, nil, countLength)
			c := dialDeflate(t, s.addr)
			c.Send(compressed(wstest.OpBinary, true, deflateMessage(t, make([]byte, limit+tc.extra))))
			if tc.extra > 0 {
				c.ExpectCloseNext(websocket.CloseMessageTooBig)
				if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
					t.Errorf("server read error = %v, want ErrReadLimit", err)
				}
				return
			}
			c.ExpectMessage(wstest.OpText, []byte(strconv.Itoa(limit)))
			c.Send(closeFrame(1000, ""))
			c.ExpectCloseNext(1000)
			wantCloseCode(t, s.result(t), 1000)
		})
	}
}
