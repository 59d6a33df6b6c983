package c2sp

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// TileHeight is fixed by c2sp.org/tlog-tiles: 256 hashes per full tile.
const TileHeight = 8

// TileWidth is the number of hashes or entries in a full tile or bundle.
const TileWidth = 1 << TileHeight

// EncodeIndex encodes a tile index as zero-padded 3-digit path elements,
// all but the last prefixed with "x" (1234067 -> x001/x234/067).
func EncodeIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func partial(w int) string {
	if w == TileWidth {
		return ""
	}
	return fmt.Sprintf(".p/%d", w)
}

// TilePath is tile/<L>/<N>[.p/<W>] (no height segment, unlike x/mod's Tile.Path).
func TilePath(level int, n int64, w int) string {
	return fmt.Sprintf("tile/%d/%s%s", level, EncodeIndex(n), partial(w))
}

// EntriesPath is tile/entries/<N>[.p/<W>].
func EntriesPath(n int64, w int) string {
	return "tile/entries/" + EncodeIndex(n) + partial(w)
}

// ParseBundle splits an entry bundle into its uint16-BE length-prefixed entries.
func ParseBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("entry bundle: truncated length prefix")
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, fmt.Errorf("entry bundle: entry %d claims %d bytes, %d left", len(out), n, len(data))
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out, nil
}

// AppendBundleEntry appends one length-prefixed entry (fake servers, tests).
func AppendBundleEntry(b, entry []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(entry))), entry...)
}

// TrimSlash removes trailing slashes from a base URL.
func TrimSlash(u string) string { return strings.TrimRight(u, "/") }
