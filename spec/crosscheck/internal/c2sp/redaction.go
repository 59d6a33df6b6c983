package c2sp

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"regexp"

	"cairn/crosscheck/internal/cbor"
)

// Redaction on legal order (spec/redaction.md), written from the prose:
//
//	signed notice = [notice: bstr, sig: bstr(64)], canonical CBOR
//	sig           = Ed25519(log key, "cairn/redaction/v1" || 0x00 || notice)
//	notice        = {v: 1, log, index, id: bstr(32), reason: "legal_order", time}
//	marker        = 0xff || "cairn/redacted/v1" || 0x00 || signed notice

// RedactionContext is the Ed25519 domain separation prefix of notices.
var RedactionContext = []byte("cairn/redaction/v1\x00")

// MarkerPrefix starts every redaction marker; no cairn entry starts with 0xff.
var MarkerPrefix = append([]byte{0xff}, []byte("cairn/redacted/v1\x00")...)

// MaxNoticeSize bounds a signed notice.
const MaxNoticeSize = 1024

var originRE = regexp.MustCompile(`^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$`)

// Notice is a verified redaction notice.
type Notice struct {
	Log    string
	Index  int64
	ID     [32]byte
	Reason string
	Time   uint64
}

// IsMarker reports whether a bundle item is a redaction marker rather than an entry.
func IsMarker(item []byte) bool { return len(item) > 0 && item[0] == 0xff }

// OpenNotice decodes a signed notice with the strict CBOR reader, verifies its
// signature with crypto/ed25519 and checks the notice map's keys and types.
func OpenNotice(signed []byte, pub ed25519.PublicKey) (*Notice, error) {
	if len(signed) > MaxNoticeSize {
		return nil, fmt.Errorf("signed notice is %d bytes, over %d", len(signed), MaxNoticeSize)
	}
	v, err := cbor.Decode(signed)
	if err != nil {
		return nil, fmt.Errorf("signed notice: %v", err)
	}
	if v.Kind != cbor.Array || len(v.Array) != 2 || v.Array[0].Kind != cbor.Bytes || v.Array[1].Kind != cbor.Bytes || len(v.Array[1].Bytes) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signed notice is not [notice: bstr, sig: bstr(64)]")
	}
	body, sig := v.Array[0].Bytes, v.Array[1].Bytes
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes", len(pub))
	}
	msg := append(append([]byte(nil), RedactionContext...), body...)
	if !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("notice signature does not verify with crypto/ed25519")
	}
	m, err := cbor.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("notice: %v", err)
	}
	if m.Kind != cbor.Map {
		return nil, fmt.Errorf("notice is not a map")
	}
	allowed := map[string]bool{"v": true, "log": true, "index": true, "id": true, "reason": true, "time": true}
	for _, p := range m.Map {
		if p.Key.Kind != cbor.Text || !allowed[p.Key.Text] {
			return nil, fmt.Errorf("notice has an unknown key")
		}
	}
	get := func(k string, kind cbor.Kind) (cbor.Value, error) {
		x, ok := m.Get(k)
		if !ok || x.Kind != kind {
			return x, fmt.Errorf("notice %s is missing or of the wrong type", k)
		}
		return x, nil
	}
	var n Notice
	if x, err := get("v", cbor.Uint); err != nil || x.Uint != 1 {
		return nil, fmt.Errorf("notice v is not 1")
	}
	x, err := get("log", cbor.Text)
	if err != nil || len(x.Text) > 128 || !originRE.MatchString(x.Text) {
		return nil, fmt.Errorf("notice log is not an origin")
	}
	n.Log = x.Text
	if x, err = get("index", cbor.Uint); err != nil || x.Uint > 1<<53-1 {
		return nil, fmt.Errorf("notice index is not an integer below 2^53")
	}
	n.Index = int64(x.Uint)
	if x, err = get("id", cbor.Bytes); err != nil || len(x.Bytes) != 32 {
		return nil, fmt.Errorf("notice id is not 32 bytes")
	}
	copy(n.ID[:], x.Bytes)
	if x, err = get("reason", cbor.Text); err != nil || x.Text != "legal_order" {
		return nil, fmt.Errorf("notice reason is not legal_order")
	}
	n.Reason = x.Text
	if x, err = get("time", cbor.Uint); err != nil || x.Uint > 1<<53-1 {
		return nil, fmt.Errorf("notice time is not an integer below 2^53")
	}
	n.Time = x.Uint
	return &n, nil
}

// OpenMarker checks a marker found at index of the log origin: the prefix,
// the signed notice, and that it names that log and that index. The leaf
// hash of the position is the returned notice's ID.
func OpenMarker(marker []byte, pub ed25519.PublicKey, origin string, index int64) (*Notice, error) {
	if len(marker) > len(MarkerPrefix)+MaxNoticeSize {
		return nil, fmt.Errorf("marker is %d bytes, too long", len(marker))
	}
	if !bytes.HasPrefix(marker, MarkerPrefix) {
		return nil, fmt.Errorf("not a redaction marker: it must start with 0xff \"cairn/redacted/v1\" 0x00")
	}
	n, err := OpenNotice(marker[len(MarkerPrefix):], pub)
	if err != nil {
		return nil, err
	}
	if n.Log != origin {
		return nil, fmt.Errorf("marker names log %q, found in %q", n.Log, origin)
	}
	if n.Index != index {
		return nil, fmt.Errorf("marker names index %d, found at %d", n.Index, index)
	}
	return n, nil
}
