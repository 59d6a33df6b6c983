package c2sp

import (
	"fmt"

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
	return out, nil
}
