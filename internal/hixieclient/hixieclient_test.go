package hixieclient

import (
	"strconv"
	"strings"
	"testing"
)

// TestNewKey checks the generated keys against draft-76 §4.1: 1 to 12
// spaces, never first or last, 1 to 12 other non-digit characters, and a
// key number that is part times the number of spaces and fits 32 bits.
func TestNewKey(t *testing.T) {
	for i := 0; i < 2000; i++ {
		key, part := NewKey()
		spaces := strings.Count(key, " ")
		if spaces < 1 || spaces > 12 || key[0] == ' ' || key[len(key)-1] == ' ' {
			t.Fatalf("key %q: %d spaces, or one at an end", key, spaces)
		}
		var digits strings.Builder
		others := 0
		for _, c := range []byte(key) {
			switch {
			case c >= '0' && c <= '9':
				digits.WriteByte(c)
			case c == ' ':
			case c >= 0x21 && c <= 0x7E:
				others++
			default:
				t.Fatalf("key %q has byte %#x", key, c)
			}
		}
		if others < 1 || others > 12 {
			t.Fatalf("key %q has %d random characters", key, others)
		}
		n, err := strconv.ParseUint(digits.String(), 10, 32)
		if err != nil || n != uint64(part)*uint64(spaces) {
			t.Fatalf("key %q: number %d (%v), want %d*%d", key, n, err, part, spaces)
		}
	}
}

// TestAnswer_draftExample is the example of draft-76 §1.3.
func TestAnswer_draftExample(t *testing.T) {
	got := Answer(4146546015/5, 1299853100/5, [8]byte([]byte("^n:ds[4U")))
	if string(got[:]) != "8jKS'y:G*Co,Wxa-" {
		t.Errorf("Answer = %q", got)
	}
}
