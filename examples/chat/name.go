package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name rules. A display name is how the room tells people apart, so a name
// must not pass for another: it is checked by checkName, and it must not
// look like a name already in the room (nameKey).
const (
	// maxNameLength is the longest name, in characters (runes).
	maxNameLength = 24

	// maxMarks is the most combining marks one letter may carry, enough
	// for the scripts that need them and too few to stack marks over the
	// lines around the name.
	maxMarks = 2
)

// nameError is why a name was refused. Its text is the close reason the
// tab is given, so it says what to change.
type nameError string

func (e nameError) Error() string { return string(e) }

// The reasons a name is refused.
var (
	errNameEncoding    = nameError("name is not valid UTF-8")
	errNameLong        = nameError(fmt.Sprintf("name is longer than %d characters", maxNameLength))
	errNameControl     = nameError("name has a control character")
	errNameBidi        = nameError("name has a bidirectional control")
	errNameInvisible   = nameError("name has an invisible or formatting character")
	errNameUnprintable = nameError("name has an unprintable character")
	errNameCharacter   = nameError("name may have only letters, digits, spaces and - _ . '")
	errNameLookalike   = nameError("name has a letter or digit styled to look like another")
	errNameMark        = nameError("name has a combining mark that is not allowed")
	errNameScripts     = nameError("name mixes alphabets")
	errNameNoLetter    = nameError("name needs a letter or digit")
	errNameTaken       = nameError("name taken, or too like one in the room")
)

// checkName returns the name a tab asked for, normalized, or why it is
// refused. An empty answer with a nil error means no name was given.
//
// Normalization is what the standard library can do without Unicode
// normalization tables: spaces around the name are trimmed, a run of
// spaces inside it becomes one, and fullwidth ASCII (U+FF01–U+FF5E, and
// the ideographic space U+3000) becomes ASCII, as NFKC would make it.
// Everything else that could make a name look like another is refused:
// C0 and C1 controls, bidirectional controls (U+202A–U+202E,
// U+2066–U+2069, and the marks U+200E, U+200F, U+061C), invisible and
// formatting characters (zero-width U+200B–U+200D, U+2060, U+FEFF, the
// rest of Unicode's Cf category, Hangul fillers and the other default
// ignorables, variation selectors), runes unicode.IsPrint refuses
// (spaces other than U+0020, private use, unassigned), symbols and
// punctuation other than - _ . ', styled letters and digits (ℂ, 𝐚, ①, ²),
// a combining mark on a Latin, Greek or Cyrillic letter (those have
// precomposed forms; a decomposed é would make "José" and "José" two
// names), more than maxMarks marks on a letter, and letters of more than
// one script (Latin "alice" with a Cyrillic "а"), except the Han, kana and
// Hangul mixes that Japanese and Korean names are written in.
func checkName(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !utf8.ValidString(s) {
		return "", errNameEncoding
	}
	if utf8.RuneCountInString(s) > maxNameLength {
		return "", errNameLong
	}
	s = strings.TrimSpace(strings.Map(narrow, s))
	if s == "" {
		return "", nil
	}
	if err := checkRunes(s); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(s), " "), nil
}

// narrow maps fullwidth ASCII to ASCII.
func narrow(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
}

// checkRunes applies checkName's rules to each rune of s.
func checkRunes(s string) error {
	var (
		scripts = map[string]bool{}
		base    rune // the letter or digit marks attach to; 0 after anything else
		baseLGC bool // base is Latin, Greek or Cyrillic
		marks   int  // marks on base so far
		alnum   bool // a letter or digit was seen
	)
	for _, r := range s {
		if err := refusedRune(r); err != nil {
			return err
		}
		switch {
		case r == ' ' || r == '-' || r == '_' || r == '.' || r == '\'':
			base, marks = 0, 0
		case unicode.IsMark(r):
			marks++
			if base == 0 || baseLGC || marks > maxMarks {
				return errNameMark
			}
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if styled(r) {
				return errNameLookalike
			}
			sc := scriptOf(r)
			if unicode.IsLetter(r) && sc != "Common" && sc != "Inherited" {
				scripts[sc] = true
			}
			base, marks, alnum = r, 0, true
			baseLGC = sc == "Latin" || sc == "Greek" || sc == "Cyrillic"
		default:
			return errNameCharacter
		}
	}
	if !alnum {
		return errNameNoLetter
	}
	if !oneWritingSystem(scripts) {
		return errNameScripts
	}
	return nil
}

// refusedRune returns why r can never be part of a name, or nil.
func refusedRune(r rune) error {
	switch {
	case r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0x9F):
		return errNameControl
	case (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200E || r == 0x200F || r == 0x061C:
		return errNameBidi
	case (r >= 0x200B && r <= 0x200D) || r == 0x2060 || r == 0xFEFF ||
		unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r):
		return errNameInvisible
	case !unicode.IsPrint(r):
		return errNameUnprintable
	}
	return nil
}

// styled reports whether r is a letter or digit drawn in a style, which
// reads as a plain one: letterlike symbols (ℂ, the Kelvin sign K),
// mathematical alphanumerics (𝐚, 𝟏), and numbers other than decimal digits
// (①, ², Ⅻ). Digits of other scripts (٣) are letters of those scripts,
// not styles, and stay.
func styled(r rune) bool {
	switch {
	case r >= 0x2100 && r <= 0x214F, r >= 0x1D400 && r <= 0x1D7FF:
		return true
	case unicode.IsNumber(r) && !unicode.IsDigit(r):
		return true
	}
	return false
}

// scriptOf returns the name of r's script in unicode.Scripts ("Latin",
// "Han", "Common" ...).
func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}

// oneWritingSystem reports whether the scripts of a name's letters belong
// to one writing system: one script, or Han with the kana (Japanese), with
// Hangul (Korean) or with Bopomofo (Chinese).
func oneWritingSystem(scripts map[string]bool) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, system := range [][]string{
		{"Han", "Hiragana", "Katakana"},
		{"Han", "Hangul"},
		{"Han", "Bopomofo"},
	} {
		n := 0
		for _, sc := range system {
			if scripts[sc] {
				n++
			}
		}
		if n == len(scripts) {
			return true
		}
	}
	return false
}

// nameKey returns what two names that look alike have in common, so that
// the hub lets only one of them into the room. It keeps letters and
// digits (so "al.ice" and "a lice" are "alice"), folds case with Unicode
// simple case folding (which is ASCII's A–Z = a–z, plus K = K and ſ = s),
// and maps a few of the confusables of Unicode's UTS #39 to one letter:
// Cyrillic and Greek letters drawn like Latin ones ("аlice" in Cyrillic
// "а"), l, I and 1, 0 and o, "rn" and "m", "vv" and "w". It is a
// skeleton in the spirit of UTS #39 §4, not the whole confusables table.
func nameKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) {
			continue
		}
		r = unicode.ToLower(foldMin(r))
		if l, ok := lookalike[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	return multiLookalike.Replace(b.String())
}

// foldMin returns the smallest rune that r is equal to under simple case
// folding.
func foldMin(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// lookalike maps a lower-case letter or digit to the Latin one it is
// drawn like. Letters whose capitals are the lookalikes (Cyrillic В, Н,
// Greek Η) are mapped by their lower case, which is what nameKey sees.
var lookalike = map[rune]rune{
	'l': 'i', '1': 'i', '0': 'o',
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ѕ': 's', 'і': 'i', 'ј': 'j', 'к': 'k',
	'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y',
	'х': 'x', 'һ': 'h', 'ӏ': 'i', 'ү': 'y', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'ζ': 'z', 'η': 'h', 'ι': 'i', 'κ': 'k',
	'μ': 'm', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
}

// multiLookalike maps letter pairs drawn like one letter.
var multiLookalike = strings.NewReplacer("rn", "m", "vv", "w")
