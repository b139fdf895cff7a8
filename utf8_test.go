package websocket

import (
	"math/rand"
	"testing"
	"unicode/utf8"
)

// feedAll feeds p split at the given cut points and reports validity.
func feedAll(p []byte, cuts ...int) bool {
	var v utf8Validator
	prev := 0
	for _, c := range cuts {
		if !v.feed(p[prev:c]) {
			return false
		}
		prev = c
	}
	return v.feed(p[prev:]) && v.done()
}

func TestUTF8Validator_table(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", true},
		{"ascii", "Hello-µ@ßöäüàá-UTF-8!!", true},
		{"kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},
		{"max 4-byte", "\xf4\x8f\xbf\xbf", true},
		{"above U+10FFFF", "\xf4\x90\x80\x80", false},
		{"surrogate", "\xed\xa0\x80", false},
		{"overlong slash", "\xc0\xaf", false},
		{"overlong 3-byte", "\xe0\x80\xaf", false},
		{"lone continuation", "\x80", false},
		{"truncated", "\xce", false},
		{"truncated 4-byte", "\xf0\x9f\x98", false},
		{"FE", "\xfe", false},
		{"emoji", "\xf0\x9f\x98\x80", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := []byte(tt.in)
			for cut := 0; cut <= len(p); cut++ {
				if got := feedAll(p, cut); got != tt.want {
					t.Fatalf("cut at %d: got %v, want %v", cut, got, tt.want)
				}
			}
		})
	}
}

// The validator must fail on the piece that makes the text invalid, not
// later (RFC 6455 §8.1 fail-fast): "\xf4\x90" can never become valid.
func TestUTF8Validator_failsFastOnPrefix(t *testing.T) {
	t.Parallel()
	var v utf8Validator
	if !v.feed([]byte("abc\xf4")) {
		t.Fatal("a valid lead byte at the end was refused")
	}
	if v.feed([]byte("\x90")) {
		t.Fatal("F4 90 accepted as the start of a sequence")
	}
	var w utf8Validator
	if w.feed([]byte("\xed\xa0")) {
		t.Fatal("surrogate prefix ED A0 accepted")
	}
}

func TestUTF8Validator_randomSplitsMatchStdlib(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(3))
	alphabet := []string{"a", "é", "€", "😀", "\x80", "\xc3", "\xed\xa0\x80", "\xf4\x90", "\xe0\xa0"}
	for i := 0; i < 5000; i++ {
		var s []byte
		for j := r.Intn(8); j >= 0; j-- {
			s = append(s, alphabet[r.Intn(len(alphabet))]...)
		}
		var cuts []int
		for c := 0; c < len(s); c += 1 + r.Intn(3) {
			cuts = append(cuts, c)
		}
		if got, want := feedAll(s, cuts...), utf8.Valid(s); got != want {
			t.Fatalf("%q cut %v: got %v, want %v", s, cuts, got, want)
		}
	}
}

func FuzzUTF8Validator(f *testing.F) {
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), uint8(3))
	f.Add([]byte("\xf4\x90\x80\x80"), uint8(1))
	f.Fuzz(func(t *testing.T, p []byte, step uint8) {
		var v utf8Validator
		ok := true
		st := int(step%7) + 1
		for i := 0; i < len(p) && ok; i += st {
			ok = v.feed(p[i:min(i+st, len(p))])
		}
		ok = ok && v.done()
		if ok != utf8.Valid(p) {
			t.Fatalf("%q in steps of %d: got %v, want %v", p, st, ok, !ok)
		}
	})
}
