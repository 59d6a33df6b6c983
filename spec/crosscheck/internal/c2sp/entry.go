package c2sp

import (
	"crypto/ed25519"
	"fmt"

	"cairn/crosscheck/internal/cbor"
)

// MaxEntrySize is cairn's entry budget (and the tlog-tiles uint16 prefix limit).
const MaxEntrySize = 65535

// RecordContext is the Ed25519 domain separation prefix for records.
var RecordContext = []byte("cairn/record/v1\x00")

// Entry is a decoded cairn entry [record: bstr, sig: bstr(64)].
type Entry struct {
	Record []byte     // canonical CBOR of the record map
	Sig    []byte     // 64 bytes
	Map    cbor.Value // the decoded record map
}

// OpenEntry decodes an entry with the strict CBOR reader, checks that the
// record is a canonical map with text keys, and verifies the signature with
// crypto/ed25519 over RecordContext || record.
func OpenEntry(entry []byte, pub ed25519.PublicKey) (*Entry, error) {
	if len(entry) > MaxEntrySize {
		return nil, fmt.Errorf("entry is %d bytes, over %d", len(entry), MaxEntrySize)
	}
	v, err := cbor.Decode(entry)
	if err != nil {
		return nil, fmt.Errorf("entry: %v", err)
	}
	if v.Kind != cbor.Array || len(v.Array) != 2 || v.Array[0].Kind != cbor.Bytes || v.Array[1].Kind != cbor.Bytes {
		return nil, fmt.Errorf("entry is not [record: bstr, sig: bstr]")
	}
	e := &Entry{Record: v.Array[0].Bytes, Sig: v.Array[1].Bytes}
	if len(e.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signature is %d bytes, want 64", len(e.Sig))
	}
	m, err := cbor.Decode(e.Record)
	if err != nil {
		return nil, fmt.Errorf("record: %v", err)
	}
	if m.Kind != cbor.Map {
		return nil, fmt.Errorf("record is not a map")
	}
	for _, p := range m.Map {
		if p.Key.Kind != cbor.Text {
			return nil, fmt.Errorf("record has a non-text key")
		}
	}
	e.Map = m
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes", len(pub))
	}
	msg := append(append([]byte(nil), RecordContext...), e.Record...)
	if !ed25519.Verify(pub, msg, e.Sig) {
		return nil, fmt.Errorf("record signature does not verify with crypto/ed25519")
	}
	return e, nil
}

// CheckPlacement checks the record's v, log and seq keys against where the
// entry was found (log origin and tree index).
func (e *Entry) CheckPlacement(origin string, index int64) error {
	v, ok := e.Map.Get("v")
	if !ok || v.Kind != cbor.Uint || v.Uint != 1 {
		return fmt.Errorf("record v is not 1")
	}
	l, ok := e.Map.Get("log")
	if !ok || l.Kind != cbor.Text || l.Text != origin {
		return fmt.Errorf("record log %q differs from the log origin %q", l.Text, origin)
	}
	s, ok := e.Map.Get("seq")
	if !ok || s.Kind != cbor.Uint || s.Uint != uint64(index) {
		return fmt.Errorf("record seq %d differs from its tree index %d", s.Uint, index)
	}
	return nil
}
