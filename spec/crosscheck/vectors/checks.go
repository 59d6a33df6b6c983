package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"cairn/crosscheck/internal/c2sp"
	"cairn/crosscheck/internal/cbor"

	"golang.org/x/mod/sumdb/tlog"
)

// checkEntry: strict CBOR, [record, sig], crypto/ed25519 over the record
// context, record_id = SHA-256(0x00 || entry) = tlog.RecordHash, and the
// decoded map equals the JSON record.
func checkEntry(name string, raw map[string]json.RawMessage) (bool, error, string) {
	valid := boolField(raw, "valid", false)
	pub, err := hexField(raw, "public_key")
	if err != nil {
		return valid, err, ""
	}
	unjudged := ""
	if w := c2sp.WeakEd25519Key(pub); w != "" {
		unjudged = "public key is " + w + " (Go's crypto/ed25519 is not strict about keys)"
	}
	entry, err := hexField(raw, "entry")
	if err != nil {
		return valid, err, unjudged
	}
	e, err := c2sp.OpenEntry(entry, ed25519.PublicKey(pub))
	if err != nil {
		return valid, err, unjudged
	}
	if !valid && unjudged != "" {
		return valid, nil, unjudged
	}
	if !valid {
		// Go checks only structure and signature; the rest of cairn's
		// record rules (types, enums, degenerate values) are semantic.
		if why := outsideSubset(e.Map); why != "" {
			return valid, nil, "RFC 8949 deterministic CBOR allows " + why + "; cairn's narrower CBOR subset does not"
		}
		return valid, nil, "structure and signature are fine; the rule broken is cairn-semantic"
	}
	id, err := hexField(raw, "record_id")
	if err != nil {
		return valid, err, ""
	}
	if got := tlog.RecordHash(entry); !bytes.Equal(got[:], id) {
		return valid, fmt.Errorf("record_id %x, but SHA-256(0x00||entry) is %x", id, got[:]), ""
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw["record"], &rec); err != nil {
		return valid, fmt.Errorf("record field: %v", err), ""
	}
	if err := compareRecord(e.Map, rec); err != nil {
		return valid, err, ""
	}
	return valid, nil, ""
}

// outsideSubset names a value that deterministic CBOR allows but cairn's
// records never use: true/false/null, negative integers, integers past 2^53-1.
func outsideSubset(v cbor.Value) string {
	switch v.Kind {
	case cbor.Bool:
		return "a boolean"
	case cbor.Null:
		return "null"
	case cbor.Negint:
		return "a negative integer"
	case cbor.Uint:
		if v.Uint > 1<<53-1 {
			return "an integer past 2^53-1"
		}
	case cbor.Array:
		for _, e := range v.Array {
			if w := outsideSubset(e); w != "" {
				return w
			}
		}
	case cbor.Map:
		for _, p := range v.Map {
			if w := outsideSubset(p.Val); w != "" {
				return w
			}
		}
	}
	return ""
}

func compareRecord(m cbor.Value, rec map[string]json.RawMessage) error {
	if len(m.Map) != len(rec) {
		return fmt.Errorf("record map has %d keys, JSON record has %d", len(m.Map), len(rec))
	}
	for _, p := range m.Map {
		j, ok := rec[p.Key.Text]
		if !ok {
			return fmt.Errorf("record key %q is missing from the JSON record", p.Key.Text)
		}
		if err := compareValue(p.Val, j); err != nil {
			return fmt.Errorf("record key %q: %v", p.Key.Text, err)
		}
	}
	return nil
}

func compareValue(v cbor.Value, j json.RawMessage) error {
	switch v.Kind {
	case cbor.Uint:
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(j))
		d.UseNumber()
		if err := d.Decode(&n); err != nil || n.String() != fmt.Sprint(v.Uint) {
			return fmt.Errorf("CBOR uint %d, JSON %s", v.Uint, j)
		}
	case cbor.Bytes:
		var s string
		if json.Unmarshal(j, &s) != nil || s != hex.EncodeToString(v.Bytes) {
			return fmt.Errorf("CBOR bstr %x, JSON %s", v.Bytes, j)
		}
	case cbor.Text:
		var s string
		if json.Unmarshal(j, &s) != nil || s != v.Text {
			return fmt.Errorf("CBOR text %q, JSON %s", v.Text, j)
		}
	case cbor.Bool:
		var b bool
		if json.Unmarshal(j, &b) != nil || b != v.Bool {
			return fmt.Errorf("CBOR bool %v, JSON %s", v.Bool, j)
		}
	case cbor.Array:
		var l []json.RawMessage
		if json.Unmarshal(j, &l) != nil || len(l) != len(v.Array) {
			return fmt.Errorf("CBOR array of %d, JSON %s", len(v.Array), j)
		}
		for i := range l {
			if err := compareValue(v.Array[i], l[i]); err != nil {
				return fmt.Errorf("[%d]: %v", i, err)
			}
		}
	case cbor.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(j, &m) != nil {
			return fmt.Errorf("CBOR map, JSON %s", j)
		}
		return compareRecord(v, m)
	default:
		return fmt.Errorf("CBOR kind %d has no JSON form in the contract", v.Kind)
	}
	return nil
}

type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not available", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func hashList(l []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(l))
	for i, s := range l {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("hash %q is not 32 bytes of hex", s)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func rootAt(n int64, hr memHashes) (tlog.Hash, error) {
	if n == 0 {
		return c2sp.EmptyRoot, nil
	}
	return tlog.TreeHash(n, hr)
}

// checkTree: leaf hashes with tlog.RecordHash, stored hashes with
// tlog.StoredHashes, roots with tlog.TreeHash, inclusion with
// tlog.CheckRecord, consistency with tlog.CheckTree; also every proof must
// equal what tlog.ProveRecord / tlog.ProveTree produce, hash for hash.
func checkTree(name string, raw map[string]json.RawMessage) (bool, error, string) {
	valid := boolField(raw, "valid", true)
	var entries []string
	if err := json.Unmarshal(raw["entries"], &entries); err != nil {
		return valid, fmt.Errorf("entries: %v", err), ""
	}
	var hr memHashes
	for i, s := range entries {
		e, err := hex.DecodeString(s)
		if err != nil {
			return valid, fmt.Errorf("entry %d is not hex", i), ""
		}
		hs, err := tlog.StoredHashes(int64(i), e, hr)
		if err != nil {
			return valid, err, ""
		}
		hr = append(hr, hs...)
	}
	n := int64(len(entries))
	root, err := rootAt(n, hr)
	if err != nil {
		return valid, err, ""
	}
	want, err := hexField(raw, "root")
	if err != nil {
		return valid, err, ""
	}
	if !bytes.Equal(root[:], want) {
		return valid, fmt.Errorf("root %x, tlog.TreeHash gives %x", want, root[:]), ""
	}
	var incl []struct {
		Index, Size int64
		Proof       []string
	}
	if err := json.Unmarshal(raw["inclusion"], &incl); err != nil && raw["inclusion"] != nil {
		return valid, fmt.Errorf("inclusion: %v", err), ""
	}
	for _, c := range incl {
		p, err := hashList(c.Proof)
		if err != nil {
			return valid, err, ""
		}
		if c.Size > n || c.Index < 0 || c.Index >= c.Size {
			return valid, fmt.Errorf("inclusion index %d size %d out of range for %d entries", c.Index, c.Size, n), ""
		}
		th, err := rootAt(c.Size, hr)
		if err != nil {
			return valid, err, ""
		}
		leaf := hr[tlog.StoredHashIndex(0, c.Index)]
		if err := tlog.CheckRecord(tlog.RecordProof(p), c.Size, th, c.Index, leaf); err != nil {
			return valid, fmt.Errorf("inclusion index %d size %d: tlog.CheckRecord: %v", c.Index, c.Size, err), ""
		}
		gp, err := tlog.ProveRecord(c.Size, c.Index, hr)
		if err != nil || !sameHashes(gp, p) {
			return valid, fmt.Errorf("inclusion index %d size %d: proof differs from tlog.ProveRecord", c.Index, c.Size), ""
		}
	}
	var cons []struct {
		Old, New int64
		Proof    []string
	}
	if err := json.Unmarshal(raw["consistency"], &cons); err != nil && raw["consistency"] != nil {
		return valid, fmt.Errorf("consistency: %v", err), ""
	}
	for _, c := range cons {
		p, err := hashList(c.Proof)
		if err != nil {
			return valid, err, ""
		}
		if c.New > n || c.Old < 0 || c.Old > c.New {
			return valid, fmt.Errorf("consistency %d -> %d out of range for %d entries", c.Old, c.New, n), ""
		}
		if c.Old == 0 { // RFC 9162: nothing to prove; tlog rejects size 0
			if len(p) != 0 {
				return valid, fmt.Errorf("consistency 0 -> %d: want an empty proof, got %d hashes", c.New, len(p)), ""
			}
			continue
		}
		oldRoot, _ := rootAt(c.Old, hr)
		newRoot, _ := rootAt(c.New, hr)
		if err := tlog.CheckTree(tlog.TreeProof(p), c.New, newRoot, c.Old, oldRoot); err != nil {
			return valid, fmt.Errorf("consistency %d -> %d: tlog.CheckTree: %v", c.Old, c.New, err), ""
		}
		gp, err := tlog.ProveTree(c.New, c.Old, hr)
		if err != nil || !sameHashes(gp, p) {
			return valid, fmt.Errorf("consistency %d -> %d: proof differs from tlog.ProveTree", c.Old, c.New), ""
		}
	}
	return valid, nil, ""
}

func sameHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// keyJudgement labels cases whose keys Go's ed25519 accepts but strict
// verifiers reject.
func keyJudgement(vkeys ...string) string {
	for _, vk := range vkeys {
		if _, _, pub, err := c2sp.ParseVKey(vk); err == nil {
			if w := c2sp.WeakEd25519Key(pub); w != "" {
				return "key " + vk + " is " + w + " (Go's crypto/ed25519 is not strict about keys)"
			}
		}
	}
	return ""
}

// checkCheckpoint: note.Open with the log key and every witness key; the
// body must be a well-formed tlog-checkpoint whose origin is the key name.
func checkCheckpoint(name string, raw map[string]json.RawMessage) (bool, error, string) {
	valid := boolField(raw, "valid", false)
	vkey := str(raw, "vkey")
	witnesses := strList(raw, "witness_vkeys")
	unjudged := keyJudgement(append([]string{vkey}, witnesses...)...)
	o, err := c2sp.OpenCheckpoint([]byte(str(raw, "note")), vkey, witnesses)
	return valid, err, unjudged + sizeJudgement(o)
}

// sizeJudgement labels checkpoints whose size is past 2^53-1, which the
// tlog-checkpoint spec allows and cairn does not support.
func sizeJudgement(o *c2sp.Opened) string {
	if o != nil && o.Checkpoint.Size > 1<<53-1 {
		return fmt.Sprintf("size %d is valid per tlog-checkpoint; cairn limits sizes to 2^53-1", o.Checkpoint.Size)
	}
	return ""
}

// checkProof: parse the tlog-proof text, open its checkpoint with note, and
// check inclusion of SHA-256(0x00 || entry) with tlog.CheckRecord.
func checkProof(name string, raw map[string]json.RawMessage) (bool, error, string) {
	valid := boolField(raw, "valid", false)
	vkey := str(raw, "vkey")
	witnesses := strList(raw, "witness_vkeys")
	unjudged := keyJudgement(append([]string{vkey}, witnesses...)...)
	entry, err := hexField(raw, "entry")
	if err != nil {
		return valid, err, unjudged
	}
	p, err := c2sp.ParseProof(str(raw, "proof"))
	if err != nil {
		return valid, fmt.Errorf("tlog-proof: %v", err), unjudged
	}
	o, err := c2sp.OpenCheckpoint(p.Checkpoint, vkey, witnesses)
	unjudged += sizeJudgement(o)
	if err != nil {
		return valid, err, unjudged
	}
	cp := o.Checkpoint
	if p.Index >= cp.Size {
		return valid, fmt.Errorf("index %d is not below the checkpoint size %d", p.Index, cp.Size), unjudged
	}
	leaf := tlog.RecordHash(entry)
	if err := tlog.CheckRecord(p.Path, cp.Size, cp.Root, p.Index, leaf); err != nil {
		return valid, fmt.Errorf("tlog.CheckRecord index %d size %d: %v", p.Index, cp.Size, err), unjudged
	}
	return valid, nil, unjudged
}
