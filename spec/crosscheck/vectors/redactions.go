package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"cairn/crosscheck/internal/c2sp"
)

// checkRedaction: spec/redaction.md §R.7 with the strict CBOR reader and
// crypto/ed25519: the marker prefix, [notice, sig] signed under
// "cairn/redaction/v1\0" by the vkey's key, the notice's keys and types,
// then log = the vkey's name, (marker) index = its position, index < size,
// id = the leaf at index; a valid case's notice must equal the JSON one.
func checkRedaction(name string, raw map[string]json.RawMessage) (bool, error, string) {
	valid := boolField(raw, "valid", false)
	vkey := str(raw, "vkey")
	unjudged := keyJudgement(vkey)
	origin, _, pub, err := c2sp.ParseVKey(vkey)
	if err != nil {
		return valid, err, unjudged
	}
	data, err := hexField(raw, "bytes")
	if err != nil {
		return valid, err, unjudged
	}
	var size, index int64
	if json.Unmarshal(raw["size"], &size) != nil || json.Unmarshal(raw["index"], &index) != nil {
		return valid, fmt.Errorf("size and index must be integers"), unjudged
	}
	var n *c2sp.Notice
	switch str(raw, "kind") {
	case "marker":
		n, err = c2sp.OpenMarker(data, pub, origin, index)
	case "notice":
		n, err = c2sp.OpenNotice(data, pub)
		if err == nil && n.Log != origin {
			err = fmt.Errorf("notice names log %q, the key is %q's", n.Log, origin)
		}
	default:
		return valid, fmt.Errorf("kind must be notice or marker"), unjudged
	}
	if err != nil {
		return valid, err, unjudged
	}
	if n.Index >= size {
		return valid, fmt.Errorf("notice index %d is not below the tree size %d", n.Index, size), unjudged
	}
	leaf, err := hexField(raw, "leaf")
	if err != nil || len(leaf) != 32 {
		return valid, fmt.Errorf("leaf must be a 32-byte hex hash"), unjudged
	}
	if string(leaf) != string(n.ID[:]) {
		return valid, fmt.Errorf("notice id %x is not the leaf %x at index %d", n.ID, leaf, n.Index), unjudged
	}
	if valid {
		var want struct {
			V      int    `json:"v"`
			Log    string `json:"log"`
			Index  int64  `json:"index"`
			ID     string `json:"id"`
			Reason string `json:"reason"`
			Time   uint64 `json:"time"`
		}
		if err := json.Unmarshal(raw["notice"], &want); err != nil {
			return valid, fmt.Errorf("notice field: %v", err), ""
		}
		if want.V != 1 || want.Log != n.Log || want.Index != n.Index || want.ID != hex.EncodeToString(n.ID[:]) || want.Reason != n.Reason || want.Time != n.Time {
			return valid, fmt.Errorf("decoded notice %+v differs from the JSON %+v", *n, want), ""
		}
	}
	return valid, nil, unjudged
}
