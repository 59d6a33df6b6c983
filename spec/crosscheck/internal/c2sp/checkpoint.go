// Package c2sp holds the pieces of the C2SP formats that golang.org/x/mod
// v0.7.0 does not provide: the tlog-checkpoint body (x/mod only parses the
// "go.sum database tree" body), tlog-cosignature/v1 (type 0x04) verifier
// keys, the tlog-proof text format, and tlog-tiles paths and entry bundles.
// Written from the C2SP documents, not from cairn's code.
package c2sp

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a parsed c2sp.org/tlog-checkpoint note body.
type Checkpoint struct {
	Origin     string
	Size       int64
	Root       tlog.Hash
	Extensions []string
}

// strictB64 rejects non-canonical padding bits and missing padding.
var strictB64 = base64.StdEncoding.Strict()

// ParseCheckpoint parses a note body (text up to and including the newline
// before the blank line): origin, decimal size without leading zeroes,
// base64 SHA-256 root, then optional non-empty extension lines.
func ParseCheckpoint(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("checkpoint body does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint body has %d lines, want at least 3", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return Checkpoint{}, fmt.Errorf("checkpoint line %d is empty", i+1)
		}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal without leading zeroes", lines[1])
	}
	root, err := strictB64.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint root %q is not base64 of 32 bytes", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	if size == 0 && h != EmptyRoot {
		return Checkpoint{}, fmt.Errorf("checkpoint of size 0 has root %s, not the empty-tree hash", lines[2])
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: h, Extensions: lines[3:]}, nil
}

// EmptyRoot is the RFC 6962 hash of the empty tree, SHA-256 of the empty
// string. (tlog.TreeHash(0) returns all zeroes instead, so size-0 trees are
// checked against this constant.)
var EmptyRoot = func() tlog.Hash {
	h, _ := tlog.ParseHash("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	return h
}()
