//go:build !race

package deflatetest

const raceEnabled = false
