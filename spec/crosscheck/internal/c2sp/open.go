package c2sp

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Opened is a checkpoint whose log signature (and required cosignatures)
// verified.
type Opened struct {
	Note       *note.Note
	Checkpoint Checkpoint
	// Cosigned maps each required cosigner name to its signature timestamp.
	Cosigned map[string]uint64
}

// OpenCheckpoint verifies a signed checkpoint with golang.org/x/mod's
// note.Open: the log's Ed25519 signature (note.NewVerifier(logVKey)) and a
// cosignature from every key in witnessVKeys (type 0x04, verified by
// CosignatureVerifier through the same note.Open call). It then parses the
// body and requires the origin line to equal the log key's name, as cairn's
// contract fixes (origin = signed-note key name).
func OpenCheckpoint(msg []byte, logVKey string, witnessVKeys []string) (*Opened, error) {
	logV, err := note.NewVerifier(logVKey)
	if err != nil {
		return nil, fmt.Errorf("log vkey: %v", err)
	}
	verifiers := []note.Verifier{logV}
	cosigners := make([]*CosignatureVerifier, 0, len(witnessVKeys))
	for _, wk := range witnessVKeys {
		cv, err := NewCosignatureVerifier(wk)
		if err != nil {
			return nil, fmt.Errorf("witness vkey: %v", err)
		}
		cosigners = append(cosigners, cv)
		verifiers = append(verifiers, cv)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		return nil, fmt.Errorf("note.Open: %v", err)
	}
	signed := func(name string, id uint32) bool {
		for _, s := range n.Sigs {
			if s.Name == name && s.Hash == id {
				return true
			}
		}
		return false
	}
	if !signed(logV.Name(), logV.KeyHash()) {
		return nil, fmt.Errorf("no signature by the log key %s", logV.Name())
	}
	out := &Opened{Note: n, Cosigned: map[string]uint64{}}
	for _, cv := range cosigners {
		if !signed(cv.Name(), cv.KeyHash()) {
			return nil, fmt.Errorf("no cosignature by witness %s", cv.Name())
		}
		out.Cosigned[cv.Name()] = cv.Timestamp
	}
	// note.Open verifies signatures in line order with the shared verifier
	// objects, so Timestamp holds the value of each cosigner's (single,
	// deduplicated) line.
	cp, err := ParseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	if cp.Origin != logV.Name() {
		return nil, fmt.Errorf("origin %q differs from the log key name %q", cp.Origin, logV.Name())
	}
	out.Checkpoint = cp
	if err := strictSignatures(msg, n.Text, verifiers); err != nil {
		return out, err
	}
	return out, nil
}

// StrictError is a rule of c2sp.org/signed-note that x/mod v0.7.0's
// note.Open does not enforce: it reads signature base64 laxly (non-zero
// padding bits pass) and skips, without verifying, any further signature by
// a key it already saw, where the spec says "If the key name and ID match a
// known key, verifiers MUST verify the signature."
type StrictError struct{ Msg string }

func (e *StrictError) Error() string { return "signed-note strict rule: " + e.Msg }

func strictSignatures(msg []byte, text string, verifiers []note.Verifier) error {
	sigs := strings.TrimSuffix(string(msg[len(text)+1:]), "\n")
	for _, line := range strings.Split(sigs, "\n") {
		rest := strings.TrimPrefix(line, "— ")
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return &StrictError{fmt.Sprintf("signature line %q has no space", line)}
		}
		name, b64 := rest[:sp], rest[sp+1:]
		raw, err := strictB64.DecodeString(b64)
		if err != nil {
			return &StrictError{fmt.Sprintf("signature by %s is not canonical base64", name)}
		}
		if len(raw) < 5 {
			return &StrictError{fmt.Sprintf("signature by %s is too short", name)}
		}
		id := binary.BigEndian.Uint32(raw)
		for _, v := range verifiers {
			if v.Name() == name && v.KeyHash() == id && !v.Verify([]byte(text), raw[4:]) {
				return &StrictError{fmt.Sprintf("a signature by known key %s+%08x does not verify (x/mod checks only the first one)", name, id)}
			}
		}
	}
	return nil
}
