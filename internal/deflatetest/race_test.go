//go:build race

package deflatetest

// raceEnabled scales the conformance runs down under the race detector.
const raceEnabled = true
