//go:build unix

package main

import "syscall"

// raiseOpenFileLimit raises the soft RLIMIT_NOFILE to the hard limit and
// returns the soft limit in force. (Rlimit's fields are int64 on some BSDs,
// hence the conversions.)
func raiseOpenFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return uint64(rl.Cur)
}
