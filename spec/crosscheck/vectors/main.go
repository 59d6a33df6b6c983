// Command vectors checks cairn's spec/vectors with Go: checkpoints and
// cosignatures with golang.org/x/mod/sumdb/note, trees and proofs with
// golang.org/x/mod/sumdb/tlog, entries with crypto/ed25519 and a strict CBOR
// reader written from RFC 8949. Valid cases must verify byte for byte; an
// invalid case that Go accepts is a failure unless Go cannot judge it (the
// case's key is one Go's ed25519 accepts but strict verifiers reject), which
// is reported as informational.
//
// Usage: go run ./vectors -dir ../vectors   (exit 1 on any failure)
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cairn/crosscheck/internal/c2sp"
)

type tally struct {
	validOK, validFail, invalidRejected, invalidStrict, invalidAccepted, invalidUnjudged int
}

var failures []string

func fail(format string, args ...any) {
	failures = append(failures, fmt.Sprintf(format, args...))
}

var verbose = flag.Bool("v", false, "print every case")

func main() {
	dir := flag.String("dir", "spec/vectors", "the spec/vectors directory")
	flag.Parse()
	total := run(*dir)
	for _, f := range failures {
		fmt.Println("FAIL", f)
	}
	if total == 0 {
		fmt.Println("no vectors found under", *dir)
		os.Exit(1)
	}
	if len(failures) > 0 {
		os.Exit(1)
	}
}

// run checks every folder under dir, prints per-folder counts, collects
// failures and returns the number of files read.
func run(dir string) int {
	failures = nil
	folders := []struct {
		name  string
		check func(name string, raw map[string]json.RawMessage) (valid bool, err error, unjudged string)
	}{
		{"entries", checkEntry},
		{"trees", checkTree},
		{"checkpoints", checkCheckpoint},
		{"proofs", checkProof},
		{"redactions", checkRedaction},
	}
	total := 0
	for _, f := range folders {
		files, _ := filepath.Glob(filepath.Join(dir, f.name, "*.json"))
		sort.Strings(files)
		var t tally
		for _, path := range files {
			name := f.name + "/" + strings.TrimSuffix(filepath.Base(path), ".json")
			raw := map[string]json.RawMessage{}
			data, err := os.ReadFile(path)
			if err == nil {
				err = json.Unmarshal(data, &raw)
			}
			if err != nil {
				t.validFail++
				fail("%s: cannot read vector: %v", name, err)
				continue
			}
			valid, cerr, unjudged := f.check(name, raw)
			desc := str(raw, "description")
			code := str(raw, "error")
			switch {
			case valid && cerr == nil:
				t.validOK++
				if *verbose {
					fmt.Printf("  ok    %s\n", name)
				}
			case valid:
				t.validFail++
				fail("%s (valid: %s): Go rejects: %v", name, desc, cerr)
			case isStrict(cerr):
				t.invalidStrict++
				fmt.Printf("  info  %s (invalid, %s): x/mod accepts it; %v\n", name, code, cerr)
			case cerr != nil:
				t.invalidRejected++
				if *verbose {
					fmt.Printf("  ok    %s rejected (%s): %v\n", name, code, cerr)
				}
			case unjudged != "":
				t.invalidUnjudged++
				fmt.Printf("  info  %s (invalid, %s: %s): Go accepts; Go cannot judge it: %s\n", name, code, desc, unjudged)
			default:
				t.invalidAccepted++
				fail("%s (invalid, %s: %s): Go accepts it", name, code, desc)
			}
		}
		total += len(files)
		if len(files) == 0 {
			fail("%s/: no vectors (the contract fixes all four folders)", f.name)
		}
		fmt.Printf("%-12s %3d files: valid %d ok, %d FAILED; invalid %d rejected by Go, %d only by strict signed-note rules, %d ACCEPTED, %d not judgeable by Go\n",
			f.name+"/", len(files), t.validOK, t.validFail, t.invalidRejected, t.invalidStrict, t.invalidAccepted, t.invalidUnjudged)
	}
	return total
}

func isStrict(err error) bool {
	var s *c2sp.StrictError
	return errors.As(err, &s)
}

// --- JSON helpers ---

func str(raw map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(raw[key], &s)
	return s
}

func boolField(raw map[string]json.RawMessage, key string, def bool) bool {
	v, ok := raw[key]
	if !ok {
		return def
	}
	var b bool
	if json.Unmarshal(v, &b) != nil {
		return def
	}
	return b
}

func hexField(raw map[string]json.RawMessage, key string) ([]byte, error) {
	s := str(raw, key)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("field %s is not hex: %v", key, err)
	}
	if s != strings.ToLower(s) {
		return nil, fmt.Errorf("field %s is not lowercase hex", key)
	}
	return b, nil
}

func strList(raw map[string]json.RawMessage, key string) []string {
	var l []string
	_ = json.Unmarshal(raw[key], &l)
	return l
}
