// Package fake builds logs the way cairn's contract describes them (entries,
// Merkle tree, signed and cosigned checkpoints, tiles), using only Go and
// golang.org/x/mod, so the checkers can be tested before cairn exists.
package fake

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"cairn/crosscheck/internal/c2sp"
	"cairn/crosscheck/internal/cbor"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Key derives a deterministic Ed25519 key from a label.
func Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("crosscheck/" + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Signer is a note.Signer for an Ed25519 (type 0x01) key.
type Signer struct {
	N    string
	Priv ed25519.PrivateKey
}

func (s Signer) Name() string { return s.N }
func (s Signer) KeyHash() uint32 {
	return c2sp.KeyID(s.N, c2sp.AlgEd25519, s.Priv.Public().(ed25519.PublicKey))
}
func (s Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.Priv, msg), nil }
func (s Signer) VKey() string {
	return c2sp.VKey(s.N, c2sp.AlgEd25519, s.Priv.Public().(ed25519.PublicKey))
}

// Entry builds a canonical entry [record, sig] for an indicator record.
func Entry(priv ed25519.PrivateKey, origin string, seq int64) []byte {
	value := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", origin, seq)))
	record := cbor.EncodeMap(map[string][]byte{
		"v":        cbor.EncodeUint(1),
		"type":     cbor.EncodeText("indicator"),
		"log":      cbor.EncodeText(origin),
		"seq":      cbor.EncodeUint(uint64(seq)),
		"time":     cbor.EncodeUint(1767225600000 + uint64(seq)),
		"alg":      cbor.EncodeText("sha256"),
		"value":    cbor.EncodeBytes(value[:]),
		"category": cbor.EncodeText("A1"),
		"kind":     cbor.EncodeText("known_material"),
		"media":    cbor.EncodeText("image"),
	})
	sig := ed25519.Sign(priv, append(append([]byte(nil), c2sp.RecordContext...), record...))
	return cbor.EncodeArray(cbor.EncodeBytes(record), cbor.EncodeBytes(sig))
}

// Hashes is an in-memory tlog.HashReader.
type Hashes []tlog.Hash

func (m Hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not available", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// Log is one member's log with its keys.
type Log struct {
	Origin  string
	Key     Signer             // log key, name = origin
	Witness ed25519.PrivateKey // this member's cosigning key, name = origin
	Entries [][]byte
	Hashes  Hashes
}

// NewLog makes a log with n entries.
func NewLog(origin string, n int) *Log {
	l := &Log{Origin: origin, Key: Signer{origin, Key("log/" + origin)}, Witness: Key("witness/" + origin)}
	for i := 0; i < n; i++ {
		l.Append(Entry(l.Key.Priv, origin, int64(i)))
	}
	return l
}

// Append adds one entry.
func (l *Log) Append(e []byte) {
	hs, err := tlog.StoredHashes(int64(len(l.Entries)), e, l.Hashes)
	if err != nil {
		panic(err)
	}
	l.Entries = append(l.Entries, e)
	l.Hashes = append(l.Hashes, hs...)
}

// WitnessVKey is the member's cosigner verifier key (type 0x04).
func (l *Log) WitnessVKey() string {
	return c2sp.VKey(l.Origin, c2sp.AlgCosignature, l.Witness.Public().(ed25519.PublicKey))
}

// Root is the RFC 6962 root of the first n entries.
func (l *Log) Root(n int64) tlog.Hash {
	if n == 0 {
		return c2sp.EmptyRoot
	}
	h, err := tlog.TreeHash(n, l.Hashes)
	if err != nil {
		panic(err)
	}
	return h
}

// Body is the checkpoint body at size n.
func (l *Log) Body(n int64) string {
	return fmt.Sprintf("%s\n%d\n%s\n", l.Origin, n, l.Root(n))
}

// Checkpoint signs the body at size n and appends cosignatures by the given
// members' witness keys at time ts.
func (l *Log) Checkpoint(n int64, ts uint64, cosigners ...*Log) []byte {
	msg, err := note.Sign(&note.Note{Text: l.Body(n)}, l.Key)
	if err != nil {
		panic(err)
	}
	for _, c := range cosigners {
		msg = append(msg, c2sp.CosignatureLine(c.Origin, c.Witness, ts, []byte(l.Body(n)))...)
	}
	return msg
}

// Marker builds a redaction marker (spec/redaction.md) for entry index of
// origin, naming leaf id, signed with priv.
func Marker(priv ed25519.PrivateKey, origin string, index int64, id tlog.Hash) []byte {
	notice := cbor.EncodeMap(map[string][]byte{
		"v":      cbor.EncodeUint(1),
		"log":    cbor.EncodeText(origin),
		"index":  cbor.EncodeUint(uint64(index)),
		"id":     cbor.EncodeBytes(id[:]),
		"reason": cbor.EncodeText("legal_order"),
		"time":   cbor.EncodeUint(1767312000000),
	})
	sig := ed25519.Sign(priv, append(append([]byte(nil), c2sp.RedactionContext...), notice...))
	return append(append([]byte(nil), c2sp.MarkerPrefix...), cbor.EncodeArray(cbor.EncodeBytes(notice), cbor.EncodeBytes(sig))...)
}
