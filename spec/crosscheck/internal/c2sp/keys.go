package c2sp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signature types of c2sp.org/signed-note verifier keys.
const (
	AlgEd25519     = 0x01
	AlgCosignature = 0x04 // c2sp.org/tlog-cosignature, cosignature/v1 (Ed25519)
)

// KeyID is SHA-256(name || "\n" || alg || pubkey)[:4] as a big-endian uint32.
func KeyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func validName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// ParseVKey splits a verifier key `name+hex(keyid)+base64(alg || pubkey)`,
// checks the key ID, and returns the parts. Only 32-byte Ed25519 keys of
// type 0x01 or 0x04 are accepted.
func ParseVKey(vkey string) (name string, alg byte, pub ed25519.PublicKey, err error) {
	parts := strings.SplitN(vkey, "+", 3) // the base64 key may itself contain '+'
	if len(parts) != 3 || !validName(parts[0]) || len(parts[1]) != 8 {
		return "", 0, nil, fmt.Errorf("verifier key %q is not name+keyid+key", vkey)
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return "", 0, nil, fmt.Errorf("verifier key %q: bad key id", vkey)
	}
	raw, err := strictB64.DecodeString(parts[2])
	if err != nil || len(raw) != 33 {
		return "", 0, nil, fmt.Errorf("verifier key %q: key is not base64 of 33 bytes", vkey)
	}
	alg = raw[0]
	if alg != AlgEd25519 && alg != AlgCosignature {
		return "", 0, nil, fmt.Errorf("verifier key %q: unsupported type 0x%02x", vkey, alg)
	}
	if KeyID(parts[0], alg, raw[1:]) != uint32(id) {
		return "", 0, nil, fmt.Errorf("verifier key %q: key id does not match the key", vkey)
	}
	return parts[0], alg, ed25519.PublicKey(raw[1:]), nil
}

// CosignatureVerifier is a note.Verifier for tlog-cosignature/v1 keys
// (type 0x04), which golang.org/x/mod v0.7.0's note package does not know.
// The signature passed to Verify is the note signature after the 4-byte key
// ID: an 8-byte big-endian timestamp followed by a 64-byte Ed25519 signature
// over "cosignature/v1\ntime <ts>\n" || note body.
type CosignatureVerifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
	// Timestamp is the timestamp of the last signature Verify accepted.
	Timestamp uint64
}

// NewCosignatureVerifier parses a type-0x04 verifier key.
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	name, alg, pub, err := ParseVKey(vkey)
	if err != nil {
		return nil, err
	}
	if alg != AlgCosignature {
		return nil, fmt.Errorf("verifier key %q has type 0x%02x, want 0x04 (cosignature/v1)", vkey, alg)
	}
	return &CosignatureVerifier{name: name, id: KeyID(name, alg, pub), pub: pub}, nil
}

func (c *CosignatureVerifier) Name() string    { return c.name }
func (c *CosignatureVerifier) KeyHash() uint32 { return c.id }

// Verify checks a timestamped_signature over msg (the note body).
func (c *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	if !ed25519.Verify(c.pub, signed, sig[8:]) {
		return false
	}
	c.Timestamp = ts
	return true
}

// CosignatureLine makes a signature line for body with a cosigner's private
// key (used by tests and the fake server).
func CosignatureLine(name string, priv ed25519.PrivateKey, ts uint64, body []byte) string {
	pub := priv.Public().(ed25519.PublicKey)
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), body...)
	raw := make([]byte, 4, 4+8+64)
	binary.BigEndian.PutUint32(raw, KeyID(name, AlgCosignature, pub))
	raw = binary.BigEndian.AppendUint64(raw, ts)
	raw = append(raw, ed25519.Sign(priv, signed)...)
	return "— " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
}

// VKey formats a verifier key string.
func VKey(name string, alg byte, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, KeyID(name, alg, pub),
		base64.StdEncoding.EncodeToString(append([]byte{alg}, pub...)))
}
