package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 6: UTF-8 handling (RFC 6455 §8.1). Valid text is echoed whatever
// its fragmentation; invalid text fails the connection with 1007, and as
// soon as the invalid byte has arrived: without waiting for the end of the
// frame or of the message.

const kosme = "κόσμε" // ce ba e1 bd b9 cf 83 ce bc ce b5

var validTexts = []struct{ name, s string }{
	{"ascii", "Hello, world!"},
	{"latin", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"greek", kosme},
	{"1 to 4 bytes", "a\u00e9\u20ac\U0001d11e"},
	{"nul", "\x00"},
	{"U+007F", "\x7f"},
	{"U+0080", "\xc2\x80"},
	{"U+07FF", "\xdf\xbf"},
	{"U+0800", "\xe0\xa0\x80"},
	{"U+D7FF", "\xed\x9f\xbf"},
	{"U+E000", "\xee\x80\x80"},
	{"U+FEFF BOM", "\xef\xbb\xbf"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFE noncharacter", "\xef\xbf\xbe"},
	{"U+FFFF noncharacter", "\xef\xbf\xbf"},
	{"U+10000", "\xf0\x90\x80\x80"},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf"},
}

func TestUTF8_valid_echoed(t *testing.T) {
	t.Parallel()
	for _, tc := range validTexts {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(text(tc.s))
			c.ExpectMessage(wstest.OpText, []byte(tc.s))
			closeNormally(t, c)
		})
	}
}

// Autobahn 6.2: a valid text cut inside its multi-byte sequences, into
// fragments or into chops of one frame.
func TestUTF8_validSplitInsideSequences_echoed(t *testing.T) {
	t.Parallel()
	s := "Hello-µ@ßöäüàá-UTF-8!! " + kosme + " \U0001d11e\u20ac"
	eachEcho(t, "1-byte fragments", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(fragments(wstest.OpText, []byte(s), 1)...))
		c.ExpectMessage(wstest.OpText, []byte(s))
		closeNormally(t, c)
	})
	eachEcho(t, "2 fragments at every offset", func(t *testing.T, c *wstest.Client) {
		for i := 1; i < len(s); i++ {
			c.SendRaw(encode(frag(wstest.OpText, false, s[:i]), cont(true, s[i:])))
			c.ExpectMessage(wstest.OpText, []byte(s))
		}
		closeNormally(t, c)
	})
	eachEcho(t, "1-byte chops", func(t *testing.T, c *wstest.Client) {
		if err := c.WriteChopped(encode(text(s)), 1, 0); err != nil {
			t.Fatal(err)
		}
		c.ExpectMessage(wstest.OpText, []byte(s))
		closeNormally(t, c)
	})
}

var invalidTexts = []struct{ name, s string }{
	{"lone continuation 80", "\x80"},
	{"lone continuation bf", "\xbf"},
	{"continuations", "\x80\xbf\x80\xbf"},
	{"overlong NUL c0 80", "\xc0\x80"},
	{"overlong c1 bf", "\xc1\xbf"},
	{"overlong slash e0 80 af", "\xe0\x80\xaf"},
	{"overlong e0 9f bf", "\xe0\x9f\xbf"},
	{"overlong slash f0 80 80 af", "\xf0\x80\x80\xaf"},
	{"overlong f0 8f bf bf", "\xf0\x8f\xbf\xbf"},
	{"surrogate U+D800 ed a0 80", "\xed\xa0\x80"},
	{"surrogate U+DFFF ed bf bf", "\xed\xbf\xbf"},
	{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80"},
	{"above U+10FFFF f4 90 80 80", "\xf4\x90\x80\x80"},
	{"f5", "\xf5\x80\x80\x80"},
	{"5-byte form", "\xf8\x88\x80\x80\x80"},
	{"6-byte form", "\xfc\x84\x80\x80\x80\x80"},
	{"fe", "\xfe"},
	{"ff", "\xff"},
	{"fe fe ff ff", "\xfe\xfe\xff\xff"},
	{"missing continuation", "\xc2\x41"},
	{"kosme surrogate edited", kosme + "\xed\xa0\x80edited"},
	{"valid then ff", "Hello, world\xff!"},
	{"truncated 2-byte at end", "\xc2"},
	{"truncated 3-byte at end", "Hello\xe2\x82"},
	{"truncated 4-byte at end", kosme + "\xf0\x90\x80"},
}

func TestUTF8_invalid_closes1007(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidTexts {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(text(tc.s))
			c.ExpectCloseNext(1007)
		})
	}
}

// Autobahn 6.3.2 style: the same invalid texts, one byte per fragment.
func TestUTF8_invalidInOneByteFragments_closes1007(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidTexts {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			// The server may give up before the last fragments arrive.
			c.WriteRaw(encode(fragments(wstest.OpText, []byte(tc.s), 1)...))
			c.ExpectClose(1007)
		})
	}
}

func TestUTF8_truncatedAtEndOfFragmentedMessage_closes1007(t *testing.T) {
	t.Parallel()
	eachEcho(t, "e2 82", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "Hello"), cont(false, " world "), cont(true, "\xe2\x82"))
		c.ExpectClose(1007)
	})
	eachEcho(t, "empty final after f0", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "Hello\xf0"), cont(true, ""))
		c.ExpectClose(1007)
	})
}

func TestUTF8_invalidInBinary_echoed(t *testing.T) {
	t.Parallel()
	eachEcho(t, "ff c0 ed a0 80", func(t *testing.T, c *wstest.Client) {
		p := []byte("\xff\xc0\xed\xa0\x80")
		c.Send(binary(p))
		c.ExpectMessage(wstest.OpBinary, p)
		closeNormally(t, c)
	})
}

// Autobahn 6.4.1-6.4.4: the server must fail the connection as soon as it
// has read the invalid byte. The tests withhold the rest of the message
// and wait for the close frame; a server that waits for the end of the
// frame or message never sends it, and the read times out.
func TestUTF8_failFast_closes1007BeforeRestIsSent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		first, second string
	}{
		// 6.4.1: the invalid sequence whole in the 2nd part.
		{"invalid in 2nd", kosme, "\xf4\x90\x80\x80"},
		// 6.4.2: the sequence starts in the 1st part, is invalid in the 2nd.
		{"invalid across 1st and 2nd", kosme + "\xf4", "\x90\x80\x80"},
		{"surrogate in 2nd then valid text", kosme, "\xed\xa0\x80 more text"},
		{"ff in 2nd", "Hello", "\xff"},
	}
	const third = "edited"
	for _, tc := range cases {
		eachEcho(t, "3 fragments/"+tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(frag(wstest.OpText, false, tc.first))
			time.Sleep(10 * time.Millisecond)
			c.Send(cont(false, tc.second))
			// The 3rd fragment, cont(true, third), is never sent.
			c.ExpectClose(1007)
		})
		eachEcho(t, "3 chops of one frame/"+tc.name, func(t *testing.T, c *wstest.Client) {
			b := encode(text(tc.first + tc.second + third))
			hdr := len(b) - len(tc.first+tc.second+third)
			chops := wstest.SplitAt(b, hdr+len(tc.first), hdr+len(tc.first)+len(tc.second))
			c.SendRaw(chops[0])
			time.Sleep(10 * time.Millisecond)
			c.SendRaw(chops[1])
			// chops[2] is never sent.
			c.ExpectClose(1007)
		})
	}
	// The frame announces far more than is sent: the server cannot be
	// waiting for the frame to end.
	eachEcho(t, "1MiB frame, invalid in first 100 bytes", func(t *testing.T, c *wstest.Client) {
		p := textPayload(1 << 20)
		copy(p[50:], "\xed\xa0\x80")
		b := encode(wstest.Msg(wstest.OpText, p))
		c.SendRaw(b[:14+100])
		c.ExpectClose(1007)
	})
}

// UTF-8 is checked across the whole message, not per fragment: an
// invalid sequence made of two valid-looking halves in different frames.
func TestUTF8_failFast_afterValidFragmentsPrefix(t *testing.T) {
	t.Parallel()
	for i := 1; i <= 3; i++ {
		eachEcho(t, fmt.Sprintf("split after %d bytes of f4 90 80 80", i), func(t *testing.T, c *wstest.Client) {
			bad := "\xf4\x90\x80\x80"
			c.Send(frag(wstest.OpText, false, kosme+bad[:i]), cont(false, bad[i:]))
			c.ExpectClose(1007)
		})
	}
}
