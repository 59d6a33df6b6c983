package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/crosscheck/internal/c2sp"
	"cairn/crosscheck/internal/cbor"
	"cairn/crosscheck/internal/fake"

	"golang.org/x/mod/sumdb/tlog"
)

// TestFakeVectors writes vectors in cairn's shape, built only with Go, and
// checks that the checker accepts the valid ones and judges the invalid ones.
// With CROSSCHECK_FAKE_OUT set, the vectors are kept there (run.sh --selftest
// points entries.py at them too).
func TestFakeVectors(t *testing.T) {
	dir := os.Getenv("CROSSCHECK_FAKE_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	write := func(folder, name string, v map[string]any) {
		if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, folder, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := fake.NewLog("demo.cairn/a", 300), fake.NewLog("demo.cairn/b", 0), fake.NewLog("demo.cairn/c", 0)
	pub := hex.EncodeToString(a.Key.Priv.Public().(ed25519.PublicKey))

	// entries
	id := tlog.RecordHash(a.Entries[4])
	value := fmt.Sprintf("%x", hashOf("demo.cairn/a/4"))
	write("entries", "valid-indicator", map[string]any{"description": "indicator", "public_key": pub,
		"entry": hex.EncodeToString(a.Entries[4]), "valid": true, "record_id": hex.EncodeToString(id[:]),
		"record": map[string]any{"v": 1, "type": "indicator", "log": "demo.cairn/a", "seq": 4, "time": 1767225600004,
			"alg": "sha256", "value": value, "category": "A1", "kind": "known_material", "media": "image"}})
	badSig := append([]byte(nil), a.Entries[4]...)
	badSig[len(badSig)-3] ^= 0x10
	write("entries", "bad-signature", map[string]any{"description": "flipped bit", "public_key": pub,
		"entry": hex.EncodeToString(badSig), "valid": false, "error": "BAD_SIGNATURE"})
	rec := cbor.EncodeMap(map[string][]byte{"v": {0x18, 0x01}, "type": cbor.EncodeText("indicator")})
	write("entries", "non-canonical-uint", map[string]any{"description": "v as 0x1801", "public_key": pub,
		"entry": hex.EncodeToString(signed(a.Key.Priv, rec)), "valid": false, "error": "NON_CANONICAL_CBOR"})
	rec = cbor.EncodeMap(map[string][]byte{"v": cbor.EncodeUint(1), "type": cbor.EncodeText("bogus")})
	write("entries", "unknown-type", map[string]any{"description": "type bogus", "public_key": pub,
		"entry": hex.EncodeToString(signed(a.Key.Priv, rec)), "valid": false, "error": "UNKNOWN_RECORD_TYPE"})
	identity := make([]byte, 32)
	identity[0] = 1
	forged := cbor.EncodeArray(cbor.EncodeBytes(rec), cbor.EncodeBytes(append(append([]byte(nil), identity...), make([]byte, 32)...)))
	write("entries", "small-order-key", map[string]any{"description": "identity key, R=identity, S=0",
		"public_key": hex.EncodeToString(identity), "entry": hex.EncodeToString(forged), "valid": false, "error": "BAD_PUBLIC_KEY"})

	// trees
	for _, n := range []int{0, 1, 7, 300} {
		l := fake.NewLog("demo.cairn/t", n)
		var entries []string
		for _, e := range l.Entries {
			entries = append(entries, hex.EncodeToString(e))
		}
		root := l.Root(int64(n))
		var incl, cons []map[string]any
		for size := int64(1); size <= int64(n); size = size*2 + 1 {
			for _, idx := range []int64{0, size / 2, size - 1} {
				p, _ := tlog.ProveRecord(size, idx, l.Hashes)
				incl = append(incl, map[string]any{"index": idx, "size": size, "proof": hexes(p)})
			}
			p, _ := tlog.ProveTree(int64(n), size, l.Hashes)
			cons = append(cons, map[string]any{"old": size, "new": n, "proof": hexes(p)})
		}
		write("trees", fmt.Sprintf("size-%d", n), map[string]any{"entries": entries, "root": hex.EncodeToString(root[:]),
			"inclusion": incl, "consistency": cons})
	}

	// checkpoints
	write("checkpoints", "plain", map[string]any{"description": "log signature", "vkey": a.Key.VKey(),
		"note": string(a.Checkpoint(300, 0)), "valid": true})
	witnessed := string(a.Checkpoint(300, 1767225600, b, c))
	write("checkpoints", "cosigned", map[string]any{"description": "two cosignatures", "vkey": a.Key.VKey(),
		"note": witnessed, "valid": true, "witness_vkeys": []string{b.WitnessVKey(), c.WitnessVKey()}})
	write("checkpoints", "missing-cosignature", map[string]any{"description": "c did not cosign", "vkey": a.Key.VKey(),
		"note": string(a.Checkpoint(300, 1767225600, b)), "valid": false, "error": "MISSING_COSIGNATURE",
		"witness_vkeys": []string{b.WitnessVKey(), c.WitnessVKey()}})
	write("checkpoints", "wrong-key", map[string]any{"description": "signed by b", "vkey": a.Key.VKey(),
		"note": strings.Replace(string(b.Checkpoint(0, 0)), "demo.cairn/b\n", "demo.cairn/a\n", 1), "valid": false, "error": "BAD_SIGNATURE"})

	// proofs
	p, _ := tlog.ProveRecord(300, 257, a.Hashes)
	text := "c2sp.org/tlog-proof@v1\nindex 257\n"
	for _, h := range p {
		text += h.String() + "\n"
	}
	text += "\n" + witnessed
	write("proofs", "valid", map[string]any{"description": "entry 257 of 300", "vkey": a.Key.VKey(),
		"entry": hex.EncodeToString(a.Entries[257]), "proof": text, "valid": true})
	write("proofs", "wrong-entry", map[string]any{"description": "entry 256 with the proof of 257", "vkey": a.Key.VKey(),
		"entry": hex.EncodeToString(a.Entries[256]), "proof": text, "valid": false, "error": "BAD_PROOF"})

	// redactions
	leaf := tlog.RecordHash(a.Entries[7])
	red := func(name, kind string, b []byte, index int64, valid bool, extra map[string]any) {
		m := map[string]any{"description": name, "vkey": a.Key.VKey(), "size": 300, "index": index, "leaf": hex.EncodeToString(leaf[:]),
			"kind": kind, "bytes": hex.EncodeToString(b), "valid": valid}
		for k, v := range extra {
			m[k] = v
		}
		write("redactions", name, m)
	}
	marker := fake.Marker(a.Key.Priv, a.Origin, 7, leaf)
	red("valid-marker", "marker", marker, 7, true, map[string]any{"notice": map[string]any{
		"v": 1, "log": a.Origin, "index": 7, "id": hex.EncodeToString(leaf[:]), "reason": "legal_order", "time": 1767312000000}})
	red("valid-notice", "notice", marker[len(c2sp.MarkerPrefix):], 7, true, map[string]any{"notice": map[string]any{
		"v": 1, "log": a.Origin, "index": 7, "id": hex.EncodeToString(leaf[:]), "reason": "legal_order", "time": 1767312000000}})
	red("wrong-key", "marker", fake.Marker(b.Key.Priv, a.Origin, 7, leaf), 7, false, map[string]any{"error": "BAD_SIGNATURE"})
	red("other-index", "marker", marker, 8, false, map[string]any{"error": "SEQ_MISMATCH"})

	total := run(dir)
	if total != 19 {
		t.Errorf("read %d files, want 19", total)
	}
	for _, f := range failures {
		t.Error(f)
	}
}

func hashOf(s string) []byte { return sha([]byte(s)) }

func signed(priv ed25519.PrivateKey, record []byte) []byte {
	sig := ed25519.Sign(priv, append(append([]byte(nil), c2sp.RecordContext...), record...))
	return cbor.EncodeArray(cbor.EncodeBytes(record), cbor.EncodeBytes(sig))
}

func hexes(p []tlog.Hash) []string {
	out := []string{}
	for _, h := range p {
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
