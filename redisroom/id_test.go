package redisroom

import (
	"strings"
	"testing"

	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"0-0", ID{}, true},
		{"0", ID{}, true},
		{"1700000000000-3", ID{1700000000000, 3}, true},
		{"1700000000000", ID{1700000000000, 0}, true},
		{"18446744073709551615-18446744073709551615", ID{^uint64(0), ^uint64(0)}, true},
		{"18446744073709551616-0", ID{}, false},
		{"", ID{}, false},
		{"-", ID{}, false},
		{"1-", ID{}, false},
		{"-1", ID{}, false},
		{"+1-0", ID{}, false},
		{"1-2-3", ID{}, false},
		{" 1-2", ID{}, false},
		{"0x1-0", ID{}, false},
		{"$", ID{}, false},
	} {
		got, err := ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && strings.Contains(tc.in, "-") && got.String() != tc.in {
			t.Errorf("ParseID(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestID_order(t *testing.T) {
	ids := []ID{{}, {0, 1}, {1, 0}, {1, ^uint64(0)}, {2, 0}}
	for i := range ids {
		for j := range ids {
			if got := ids[i].Less(ids[j]); got != (i < j) {
				t.Errorf("%v.Less(%v) = %v", ids[i], ids[j], got)
			}
		}
	}
	if (ID{}).next() != (ID{0, 1}) || (ID{1, ^uint64(0)}).next() != (ID{2, 0}) {
		t.Error("next does not carry into the milliseconds")
	}
}

func TestValidRoom(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"a", true},
		{"A_b-9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00", false},
	} {
		if got := ValidRoom(tc.in); got != tc.ok {
			t.Errorf("ValidRoom(%q) = %v", tc.in, got)
		}
	}
}
