package c2sp

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Proof is a parsed c2sp.org/tlog-proof@v1 text.
type Proof struct {
	Extra      []byte // nil when the extra line is absent
	Index      int64
	Path       tlog.RecordProof
	Checkpoint []byte // the signed note, verbatim
}

const proofHeader = "c2sp.org/tlog-proof@v1"

// ParseProof parses the format of c2sp.org/tlog-proof: the header line, an
// optional "extra <base64>" line, "index <decimal>", zero or more base64
// hash lines, an empty line, then the checkpoint verbatim.
func ParseProof(text string) (*Proof, error) {
	rest := text
	next := func() (string, bool) {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		line := rest[:i]
		rest = rest[i+1:]
		return line, true
	}
	line, ok := next()
	if !ok || line != proofHeader {
		return nil, fmt.Errorf("first line is not %q", proofHeader)
	}
	p := &Proof{}
	line, ok = next()
	if ok && strings.HasPrefix(line, "extra ") {
		extra, err := strictB64.DecodeString(line[len("extra "):])
		if err != nil {
			return nil, fmt.Errorf("extra line is not base64: %v", err)
		}
		p.Extra = extra
		line, ok = next()
	}
	if !ok || !strings.HasPrefix(line, "index ") {
		return nil, fmt.Errorf("missing index line")
	}
	idx := line[len("index "):]
	n, err := strconv.ParseInt(idx, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != idx {
		return nil, fmt.Errorf("index %q is not a decimal without leading zeroes", idx)
	}
	p.Index = n
	for {
		line, ok = next()
		if !ok {
			return nil, fmt.Errorf("no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		raw, err := strictB64.DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("proof line %q is not base64 of 32 bytes", line)
		}
		var h tlog.Hash
		copy(h[:], raw)
		p.Path = append(p.Path, h)
	}
	if rest == "" {
		return nil, fmt.Errorf("no checkpoint after the proof")
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}
