package main

import (
	"encoding/binary"
	"net/url"
	"strings"
	"testing"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// expectCloseFrame reads cl's frames up to the server's close frame,
// answers it, and returns its code and reason; it fails the test if a
// data message arrives first.
func expectCloseFrame(t *testing.T, who string, cl *wstest.Client) (int, string) {
	t.Helper()
	f, err := cl.ReadFrame()
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if f.Opcode != wstest.OpClose || len(f.Payload) < 2 {
		t.Fatalf("%s got %v, want a close frame with a code", who, f)
	}
	code := int(binary.BigEndian.Uint16(f.Payload))
	cl.Send(wstest.Msg(wstest.OpClose, f.Payload[:2]))
	return code, string(f.Payload[2:])
}

// Every kind of name that could pass for another is refused over a real
// connection: the tab is closed with 1008 and a reason that says what to
// change, before it joins the room.
func TestChat_badNamesRefused(t *testing.T) {
	_, addr := startChat(t)
	alice := wstest.Dial(t, addr, "/ws?name=alice", nil)
	expectEvent(t, "alice", alice, event{Type: "welcome", Name: "alice"})

	for _, tc := range []struct {
		class string
		name  string
		want  error
	}{
		{"C0 control", "ali\x1bce", errNameControl},
		{"DEL", "ali\x7fce", errNameControl},
		{"C1 control", "ali\u0085ce", errNameControl},
		{"C1 CSI", "bob\u009b31m", errNameControl},
		{"bidi LRE", "\u202Aalice", errNameBidi},
		{"bidi RLO", "bob\u202Eecila", errNameBidi},
		{"bidi PDF", "alice\u202C", errNameBidi},
		{"bidi LRI", "\u2066alice", errNameBidi},
		{"bidi PDI", "alice\u2069", errNameBidi},
		{"bidi RLM", "alice\u200F", errNameBidi},
		{"zero-width space", "al\u200Bice", errNameInvisible},
		{"zero-width non-joiner", "al\u200Cice", errNameInvisible},
		{"zero-width joiner", "al\u200Dice", errNameInvisible},
		{"word joiner", "al\u2060ice", errNameInvisible},
		{"BOM", "\uFEFFalice", errNameInvisible},
		{"soft hyphen", "al\u00ADice", errNameInvisible},
		{"Hangul filler", "\u3164alice", errNameInvisible},
		{"variation selector", "alice\uFE0F", errNameInvisible},
		{"no-break space", "al\u00A0ice", errNameUnprintable},
		{"line separator", "al\u2028ice", errNameUnprintable},
		{"private use", "al\uE000ice", errNameUnprintable},
		{"unassigned", "al\u0378ice", errNameUnprintable},
		{"invalid UTF-8", "al\xffice", errNameEncoding},
		{"too long", strings.Repeat("a", maxNameLength+1), errNameLong},
		{"too long in runes", strings.Repeat("é", maxNameLength+1), errNameLong},
		{"log spoof", "alice: hi", errNameCharacter},
		{"HTML", "<b>bob</b>", errNameCharacter},
		{"symbol", "alice ★", errNameCharacter},
		{"math bold", "\U0001D41A\U0001D425\U0001D422\U0001D41C\U0001D41E", errNameLookalike},
		{"Kelvin sign", "\u212Aate", errNameLookalike},
		{"circled digit", "bob\u2460", errNameLookalike},
		{"superscript", "bob\u00B2", errNameLookalike},
		{"decomposed accent", "jose\u0301", errNameMark},
		{"stacked marks", "\u0915\u0901\u0902\u0903", errNameMark},
		{"leading mark", "\u0301alice", errNameMark},
		{"Cyrillic a in Latin", "\u0430lice", errNameScripts},
		{"Greek o in Latin", "b\u03BFb", errNameScripts},
		{"punctuation only", "-._", errNameNoLetter},
		{"taken", "alice", errNameTaken},
		{"taken, other case", "ALICE", errNameTaken},
		{"taken, spaced", " a.lice ", errNameTaken},
		{"taken, l as 1", "a1ice", errNameTaken},
		{"taken, fullwidth", "\uFF41\uFF4C\uFF49\uFF43\uFF45", errNameTaken},
		{"taken, all Cyrillic", "\u0430\u04CF\u0456\u0441\u0435", errNameTaken},
	} {
		t.Run(tc.class, func(t *testing.T) {
			cl := wstest.Dial(t, addr, "/ws?name="+url.QueryEscape(tc.name), nil)
			code, reason := expectCloseFrame(t, tc.class, cl)
			if code != websocket.ClosePolicyViolation || reason != tc.want.Error() {
				t.Errorf("name %+q: close %d %q, want 1008 %q", tc.name, code, reason, tc.want)
			}
		})
	}

	// Alice heard of none of them.
	alice.Send(wstest.Msg(wstest.OpText, []byte("anyone?")))
	expectEvent(t, "alice", alice, event{Type: "message", Name: "alice", Text: "anyone?"})
}

// The names that pass, and what the room sees.
func TestCheckName_accepted(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"  Alice  Smith ", "Alice Smith"},
		{"\uFF21\uFF4C\uFF49\uFF43\uFF45", "Alice"}, // fullwidth
		{"o'brien-2_x.y", "o'brien-2_x.y"},
		{"José", "José"},         // precomposed é
		{"Ζωή", "Ζωή"},           // Greek
		{"Дмитрий", "Дмитрий"},   // Cyrillic
		{"山田たろう", "山田たろう"},       // Han + Hiragana
		{"ミラー", "ミラー"},           // Katakana with the long-vowel mark (Common)
		{"김민준", "김민준"},           // Hangul
		{"देवनागरी", "देवनागरी"}, // Devanagari with its vowel signs (marks)
		{"محمد٣", "محمد٣"},       // Arabic letters and digit
		{strings.Repeat("é", maxNameLength), strings.Repeat("é", maxNameLength)},
		{"", ""},
		{" \t\n", ""},
	} {
		got, err := checkName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("checkName(%+q) = %+q, %v; want %+q", tc.in, got, err, tc.want)
		}
	}
}

// Names that look alike share a key; names that do not, do not.
func TestNameKey(t *testing.T) {
	same := [][]string{
		{"alice", "Alice", "ALICE", "a lice", "al.ice", "a1ice", "aIice", "\u0430\u04CF\u0456\u0441\u0435"},
		{"modern", "rnodern", "MODERN"},
		{"wes", "vves"},
		{"bob0", "BOBO", "bobo"},
		{"Kate", "kate"},
		{"σοφιας", "ΣΟΦΙΑΣ", "σοφιασ"},
	}
	for _, group := range same {
		for _, n := range group[1:] {
			if nameKey(n) != nameKey(group[0]) {
				t.Errorf("nameKey(%+q) = %+q, nameKey(%+q) = %+q; want the same", n, nameKey(n), group[0], nameKey(group[0]))
			}
		}
	}
	differ := [][2]string{{"alice", "alicia"}, {"bob", "rob"}, {"anna", "hanna"}, {"José", "Jose"}}
	for _, p := range differ {
		if nameKey(p[0]) == nameKey(p[1]) {
			t.Errorf("nameKey(%+q) == nameKey(%+q) = %+q; want them apart", p[0], p[1], nameKey(p[0]))
		}
	}
}

// A guest name never collides with a name someone chose.
func TestChat_guestNamesAreUnique(t *testing.T) {
	_, addr := startChat(t)
	squatter := wstest.Dial(t, addr, "/ws?name=guest-1", nil)
	expectEvent(t, "squatter", squatter, event{Type: "welcome", Name: "guest-1"})
	guest := wstest.Dial(t, addr, "/ws", nil)
	expectEvent(t, "guest", guest, event{Type: "welcome", Name: "guest-2", Users: []string{"guest-1"}})
}
