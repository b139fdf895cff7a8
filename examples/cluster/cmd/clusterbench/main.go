// Command clusterbench measures the cluster chat: deliveries per second
// and end-to-end latency (post to receipt, p50 and p99) with clients
// spread over three nodes sharing one Redis, in one room and in 100
// rooms, against one node with no Redis (-redis "") holding the same
// clients, in the same run.
//
//	cd examples/cluster && go run ./cmd/clusterbench -clients 1000 -duration 10s
//
// It builds the node, starts a redis-server of its own (appendonly,
// appendfsync everysec) on a free loopback port, and the nodes as
// processes. Each poster is closed-loop: it keeps -window lines in flight
// and sends the next when its own line comes back (the acknowledgement).
// Each line carries its send time; every client that receives it records
// the delay. Everything runs on one machine, clients included.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func main() {
	clients := flag.Int("clients", 1000, "clients per node in the 3-node runs (the 1-node runs hold 3x as many)")
	rooms := flag.Int("rooms", 100, "rooms of the many-rooms runs")
	duration := flag.Duration("duration", 10*time.Second, "how long each run posts")
	window := flag.Int("window", 4, "lines each poster keeps in flight")
	posters := flag.Int("posters", 6, "posters of the one-room runs (the many-rooms runs have one per room)")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "clusterbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "cluster")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hybi/websocket/examples/cluster").CombinedOutput(); err != nil {
		log.Fatalf("building the node: %v\n%s", err, out)
	}
	redisAddr, stopRedis := startRedis(dir)
	defer stopRedis()

	cfg := runConfig{duration: *duration, window: *window}
	fmt.Printf("clusterbench: %d clients per node x 3 nodes (1 node: %d clients), %v per run, window %d, GOMAXPROCS of this machine: %d CPUs\n\n",
		*clients, 3**clients, *duration, *window, numCPU())
	fmt.Println("| setup | rooms | clients | lines/s | deliveries/s | p50 | p99 | lost |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, sc := range []struct {
		name   string
		nodes  int
		redis  string
		rooms  int
		poster int
	}{
		{"3 nodes + Redis", 3, redisAddr, 1, *posters},
		{"1 node, no Redis", 1, "", 1, *posters},
		{"3 nodes + Redis", 3, redisAddr, *rooms, *rooms},
		{"1 node, no Redis", 1, "", *rooms, *rooms},
	} {
		addrs, stop := startNodes(bin, sc.nodes, sc.redis)
		cfg.addrs, cfg.rooms, cfg.posters = addrs, sc.rooms, sc.poster
		cfg.clients = 3 * *clients
		res, err := run(cfg)
		stop()
		if err != nil {
			log.Fatalf("%s, %d rooms: %v", sc.name, sc.rooms, err)
		}
		fmt.Printf("| %s | %d | %d | %.0f | %.0f | %v | %v | %d |\n", sc.name, sc.rooms, cfg.clients,
			res.lines, res.deliveries, res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond), res.lost)
	}
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRedis runs a redis-server in dir and returns its address.
func startRedis(dir string) (string, func()) {
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		log.Fatalf("redis-server: %v (apt-get install redis-server)", err)
	}
	waitListening(addr)
	return addr, func() { cmd.Process.Kill(); cmd.Wait() }
}

// startNodes runs n nodes and returns their addresses.
func startNodes(bin string, n int, redisAddr string) ([]string, func()) {
	var addrs []string
	var cmds []*exec.Cmd
	for i := 0; i < n; i++ {
		addr := freeAddr()
		cmd := exec.Command(bin, "-addr", addr, "-redis", redisAddr, "-node", fmt.Sprint("n", i))
		var out bytes.Buffer
		cmd.Stderr = &out
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		waitListening(addr)
		addrs, cmds = append(addrs, addr), append(cmds, cmd)
	}
	return addrs, func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

func waitListening(addr string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
