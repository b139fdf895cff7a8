package redisroom

import (
	"errors"
	"strconv"
	"strings"
)

// ID is a Redis stream entry id, <milliseconds>-<sequence>: the identity
// of a line and its place in its room's order. Ids of one stream strictly
// increase; the zero ID (0-0) comes before every entry.
type ID struct {
	Ms, Seq uint64
}

// ErrBadID is returned by [ParseID] for a string that is not a stream id.
var ErrBadID = errors.New("redisroom: malformed stream id")

// ParseID parses a stream id as Redis writes it ("1700000000000-3"). A
// bare millisecond time ("1700000000000") means sequence 0, as it does for
// XRANGE. Anything else (signs, spaces, more than 20 digits, a value that
// overflows uint64) is [ErrBadID].
func ParseID(s string) (ID, error) {
	ms, seq, found := strings.Cut(s, "-")
	var id ID
	var err error
	if id.Ms, err = parseUint(ms); err != nil {
		return ID{}, err
	}
	if found {
		if id.Seq, err = parseUint(seq); err != nil {
			return ID{}, err
		}
	}
	return id, nil
}

// parseUint accepts decimal digits only: strconv.ParseUint alone would
// take "+1" or "0x1" in some forms and we want the id's exact spelling.
func parseUint(s string) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, ErrBadID
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadID
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, ErrBadID
	}
	return n, nil
}

// String returns the id as Redis writes it.
func (id ID) String() string {
	b := make([]byte, 0, 41)
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Seq, 10)
	return string(b)
}

// Less reports whether id comes before o in a stream.
func (id ID) Less(o ID) bool {
	return id.Ms < o.Ms || (id.Ms == o.Ms && id.Seq < o.Seq)
}

// IsZero reports whether id is 0-0, the position before every entry.
func (id ID) IsZero() bool { return id == ID{} }

// next returns the smallest id after id (for an exclusive range start
// without Redis 6.2's "(" syntax, and for local ids).
func (id ID) next() ID {
	if id.Seq == ^uint64(0) {
		return ID{Ms: id.Ms + 1}
	}
	return ID{Ms: id.Ms, Seq: id.Seq + 1}
}

// MaxRoomLen is the longest room name [ValidRoom] accepts.
const MaxRoomLen = 64

// ValidRoom reports whether name is a room name: 1 to [MaxRoomLen]
// characters, each an ASCII letter, digit, '_' or '-'. Room names become
// part of Redis keys, so nothing else gets through.
func ValidRoom(name string) bool {
	if name == "" || len(name) > MaxRoomLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
