package websocket_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestGorillaCompatProgramBuilds compiles and vets testdata/gorillacompat, a
// server written exactly as gorilla/websocket documents its server API with
// only the import path changed. If it stops compiling, a gorilla program
// can no longer switch to this package by changing its import.
func TestGorillaCompatProgramBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command to build testdata/gorillacompat; skipped with -short")
	}
	t.Parallel()

	goTool := goCommand(t)
	bin := filepath.Join(t.TempDir(), "gorillacompat")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}

	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
		defer cancel()
	}

	for _, args := range [][]string{
		{"build", "-o", bin, "./testdata/gorillacompat"},
		{"vet", "./testdata/gorillacompat"},
	} {
		t.Run(args[0], func(t *testing.T) {
			cmd := exec.CommandContext(ctx, goTool, args...)
			cmd.Dir = "." // the module root: tests run in the package directory
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", goTool, strings.Join(args, " "), err, out)
			}
		})
	}
}

// goCommand returns the go binary of the toolchain running this test, so
// the program is built by the same Go version as the package under test.
func goCommand(t *testing.T) string {
	t.Helper()
	name := "go"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	// A binary built with -trimpath reports no GOROOT: fall back to $PATH,
	// and fail loudly if there is no go command at all.
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("no go command for %s: GOROOT %q has none and $PATH lookup failed: %v",
			runtime.Version(), runtime.GOROOT(), err)
	}
	return p
}
