// Command federation checks a running cairn federation from the outside,
// with golang.org/x/mod/sumdb/note and tlog: it reads testnet.json, and for
// every log on every node checks that the checkpoint is the same everywhere,
// signed by the log's owner and cosigned by every other member, that the
// tiles are consistent with the root, and that every entry is a canonical
// [record, sig] signed by the log's key, placed at its own seq.
//
// Usage: go run ./federation -testnet D/testnet.json [-all]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	path := flag.String("testnet", "testnet.json", "path to testnet.json")
	all := flag.Bool("all", true, "download tiles and entries from every node, not only the owner")
	flag.Parse()
	raw, err := os.ReadFile(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var tn Testnet
	if err := json.Unmarshal(raw, &tn); err != nil || len(tn.Nodes) == 0 {
		fmt.Fprintf(os.Stderr, "%s: not a testnet.json with nodes (%v)\n", *path, err)
		os.Exit(2)
	}
	v := &Verifier{Client: NewClient(), Testnet: tn, EntriesFromAll: *all, Log: os.Stdout}
	r := v.Run()
	fmt.Printf("federation: %d nodes, %d logs, %d checkpoints verified, %d cosignatures, %d tiles, %d entry bundles, %d entries verified, %d redaction markers, %d inclusion proofs\n",
		r.Nodes, r.Logs, r.Checkpoints, r.Cosignatures, r.Tiles, r.Bundles, r.Entries, r.Redacted, r.Proofs)
	for _, p := range r.Problems {
		fmt.Println("FAIL", p)
	}
	if len(r.Problems) > 0 {
		os.Exit(1)
	}
}
