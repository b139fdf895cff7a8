// Command maskcmp puts this library's unmasking beside gobwas/ws's Cipher
// and a plain copy, measured in one run: it builds the root package's
// benchmarks and this directory's (gobwas) into two test binaries and runs
// them in alternation, several rounds, then prints the median throughput
// per size and the ratio to gobwas as a markdown table.
//
// Usage (from internal/benchcmp):
//
//	go run ./cmd/maskcmp [-rounds 5] [-benchtime 200ms]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

func main() {
	rounds := flag.Int("rounds", 5, "alternating rounds")
	benchtime := flag.String("benchtime", "200ms", "-test.benchtime per sub-benchmark")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "maskcmp")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ours, gobwas := filepath.Join(dir, "ours.test"), filepath.Join(dir, "gobwas.test")
	build := func(out, pkgDir string) {
		cmd := exec.Command("go", "test", "-c", "-o", out, ".")
		cmd.Dir = pkgDir
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("building %s: %v", pkgDir, err)
		}
	}
	root, err := filepath.Abs("../..") // internal/benchcmp -> repository root
	if err != nil {
		log.Fatal(err)
	}
	build(ours, root)
	build(gobwas, "cmd/maskcmp")

	// results[impl/size] = MB/s of each round
	results := map[string][]float64{}
	run := func(bin, bench string) {
		cmd := exec.Command(bin, "-test.run=^$", "-test.bench="+bench, "-test.benchtime="+*benchtime)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("%s: %v\n%s", bin, err, out.Bytes())
		}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 6 || !strings.HasPrefix(f[0], "Benchmark") {
				continue
			}
			name := f[0][strings.Index(f[0], "/")+1:]
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i] // the -GOMAXPROCS suffix
			}
			for i := 2; i+1 < len(f); i++ {
				if f[i+1] == "MB/s" {
					v, _ := strconv.ParseFloat(f[i], 64)
					results[name] = append(results[name], v)
				}
			}
		}
	}
	for r := 0; r < *rounds; r++ {
		fmt.Fprintf(os.Stderr, "maskcmp: round %d of %d\n", r+1, *rounds)
		if r%2 == 0 {
			run(ours, "^BenchmarkMask$/^(mask|go|copy)/")
			run(gobwas, "^BenchmarkCipher$")
		} else {
			run(gobwas, "^BenchmarkCipher$")
			run(ours, "^BenchmarkMask$/^(mask|go|copy)/")
		}
	}

	median := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	fmt.Printf("Unmasking throughput, GB/s, median of %d alternating rounds (ratio to gobwas/ws Cipher); %s/%s, %d CPUs, %s.\n\n",
		*rounds, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Println("| size | mask (default path) | maskGo (portable Go) | gobwas Cipher | copy |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, size := range []string{"16B", "125B", "1KiB", "4KiB", "64KiB", "1MiB"} {
		g := median(results["gobwas/"+size])
		cell := func(impl string) string {
			v := median(results[impl+"/"+size])
			if g == 0 {
				return fmt.Sprintf("%.1f", v/1000)
			}
			return fmt.Sprintf("%.1f ×%.2f", v/1000, v/g)
		}
		fmt.Printf("| %s | %s | %s | %.1f | %s |\n", size, cell("mask"), cell("go"), g/1000, cell("copy"))
	}
}
