package c2sp_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"cairn/crosscheck/internal/c2sp"
	"cairn/crosscheck/internal/cbor"
	"cairn/crosscheck/internal/fake"

	"golang.org/x/mod/sumdb/tlog"
)

func TestOpenCheckpointWithCosignatures(t *testing.T) {
	a, b, c := fake.NewLog("t.cairn/a", 5), fake.NewLog("t.cairn/b", 0), fake.NewLog("t.cairn/c", 0)
	msg := a.Checkpoint(5, 1767225600, b, c)
	o, err := c2sp.OpenCheckpoint(msg, a.Key.VKey(), []string{b.WitnessVKey(), c.WitnessVKey()})
	if err != nil {
		t.Fatal(err)
	}
	if o.Checkpoint.Size != 5 || o.Checkpoint.Root != a.Root(5) || o.Cosigned["t.cairn/b"] != 1767225600 {
		t.Fatalf("bad result %+v", o)
	}
	// Missing cosigner.
	d := fake.NewLog("t.cairn/d", 0)
	if _, err := c2sp.OpenCheckpoint(msg, a.Key.VKey(), []string{d.WitnessVKey()}); err == nil {
		t.Fatal("accepted a checkpoint without d's cosignature")
	}
	// Tampered cosignature: flip a bit in the last line's signature.
	lines := strings.Split(strings.TrimSuffix(string(msg), "\n"), "\n")
	last := lines[len(lines)-1]
	i := strings.LastIndexByte(last, ' ')
	raw, _ := base64.StdEncoding.DecodeString(last[i+1:])
	raw[20] ^= 1
	lines[len(lines)-1] = last[:i+1] + base64.StdEncoding.EncodeToString(raw)
	bad := strings.Join(lines, "\n") + "\n"
	if _, err := c2sp.OpenCheckpoint([]byte(bad), a.Key.VKey(), []string{c.WitnessVKey()}); err == nil {
		t.Fatal("accepted a tampered cosignature")
	}
	// Wrong log key.
	if _, err := c2sp.OpenCheckpoint(msg, b.Key.VKey(), nil); err == nil {
		t.Fatal("accepted a checkpoint under the wrong key")
	}
	// A type-0x01 key cannot serve as a cosigner key.
	if _, err := c2sp.NewCosignatureVerifier(b.Key.VKey()); err == nil {
		t.Fatal("accepted a 0x01 key as a cosigner key")
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := c2sp.EmptyRoot.String()
	good := []string{"o\n0\n" + root + "\n", "o\n12\n" + root + "\next\n"}
	bad := []string{"o\n0\n" + root, "o\n01\n" + root + "\n", "o\n-1\n" + root + "\n", "\n0\n" + root + "\n",
		"o\n0\n" + root + "\n\n", "o\n0\nAAAA\n", "o\n0\n" + root[:len(root)-2] + "V=\n"}
	for _, s := range good {
		if _, err := c2sp.ParseCheckpoint(s); err != nil {
			t.Errorf("rejected %q: %v", s, err)
		}
	}
	for _, s := range bad {
		if _, err := c2sp.ParseCheckpoint(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

func TestParseProof(t *testing.T) {
	l := fake.NewLog("t.cairn/a", 11)
	p, _ := tlog.ProveRecord(11, 6, l.Hashes)
	text := "c2sp.org/tlog-proof@v1\nextra AQI=\nindex 6\n"
	for _, h := range p {
		text += h.String() + "\n"
	}
	text += "\n" + string(l.Checkpoint(11, 0))
	got, err := c2sp.ParseProof(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != 6 || len(got.Path) != len(p) || hex.EncodeToString(got.Extra) != "0102" {
		t.Fatalf("bad parse %+v", got)
	}
	o, err := c2sp.OpenCheckpoint(got.Checkpoint, l.Key.VKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(got.Path, o.Checkpoint.Size, o.Checkpoint.Root, 6, tlog.RecordHash(l.Entries[6])); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"c2sp.org/tlog-proof@v2\nindex 0\n\nx", "c2sp.org/tlog-proof@v1\nindex 01\n\nx",
		"c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\nx", "c2sp.org/tlog-proof@v1\nindex 0\n"} {
		if _, err := c2sp.ParseProof(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

func TestTilePaths(t *testing.T) {
	cases := map[string]string{
		c2sp.TilePath(0, 1234067, 256): "tile/0/x001/x234/067",
		c2sp.TilePath(1, 0, 17):        "tile/1/000.p/17",
		c2sp.EntriesPath(5, 256):       "tile/entries/005",
		c2sp.EntriesPath(1000, 3):      "tile/entries/x001/000.p/3",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %s want %s", got, want)
		}
	}
}

func TestOpenEntry(t *testing.T) {
	l := fake.NewLog("t.cairn/a", 3)
	pub := l.Key.Priv.Public().(ed25519.PublicKey)
	e, err := c2sp.OpenEntry(l.Entries[2], pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckPlacement("t.cairn/a", 2); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckPlacement("t.cairn/a", 1); err == nil {
		t.Fatal("accepted a record at the wrong index")
	}
	bad := append([]byte(nil), l.Entries[2]...)
	bad[len(bad)-1] ^= 1
	if _, err := c2sp.OpenEntry(bad, pub); err == nil {
		t.Fatal("accepted a bad signature")
	}
}

func TestCBORStrict(t *testing.T) {
	bad := map[string]string{
		"1817":               "non-shortest uint",
		"5f4100ff":           "indefinite bstr",
		"a2616201616101":     "unsorted keys",
		"a2616101616102":     "duplicate keys",
		"c100":               "tag",
		"f93c00":             "float",
		"f7":                 "undefined",
		"0000":               "trailing byte",
		"62ff00":             "bad utf-8",
		"9b00000000ffffffff": "huge array",
	}
	for h, why := range bad {
		b, _ := hex.DecodeString(h)
		if _, err := cbor.Decode(b); err == nil {
			t.Errorf("accepted %s (%s)", h, why)
		}
	}
	good := []string{"00", "1818", "3bffffffffffffffff", "a2616101616202", "f6", "f5", "820102", "1b0000019b77f3ec00"}
	for _, h := range good {
		b, _ := hex.DecodeString(h)
		if _, err := cbor.Decode(b); err != nil {
			t.Errorf("rejected %s: %v", h, err)
		}
	}
}

func TestWeakEd25519Key(t *testing.T) {
	must := func(h string) []byte { b, _ := hex.DecodeString(h); return b }
	cases := map[string]string{
		"0100000000000000000000000000000000000000000000000000000000000000": "small-order", // identity
		"0000000000000000000000000000000000000000000000000000000000000000": "small-order", // order 4
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f": "small-order", // order 2
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05": "small-order", // order 8
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f": "non-canonical",
		"0100000000000000000000000000000000000000000000000000000000000080": "non-canonical", // -0
	}
	for h, want := range cases {
		if got := c2sp.WeakEd25519Key(must(h)); got != want {
			t.Errorf("%s: got %q want %q", h, got, want)
		}
	}
	for i := 0; i < 20; i++ {
		pub := fake.Key(fmt.Sprint(i)).Public().(ed25519.PublicKey)
		if w := c2sp.WeakEd25519Key(pub); w != "" {
			t.Errorf("ordinary key %x labelled %s", pub, w)
		}
	}
}

func TestStrictSignedNoteRules(t *testing.T) {
	a := fake.NewLog("t.cairn/a", 2)
	msg := string(a.Checkpoint(2, 0))
	line := msg[strings.Index(msg, "\n\n")+2:]
	// A second, broken signature by the same key: x/mod skips it, the spec says verify it.
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(line[strings.LastIndexByte(line, ' ')+1:], "\n"))
	raw[10] ^= 1
	dup := msg + "— t.cairn/a " + base64.StdEncoding.EncodeToString(raw) + "\n"
	var se *c2sp.StrictError
	if _, err := c2sp.OpenCheckpoint([]byte(dup), a.Key.VKey(), nil); !errors.As(err, &se) {
		t.Fatalf("want a StrictError for a broken repeated signature, got %v", err)
	}
	// Non-canonical base64: the last character before '=' with non-zero padding bits.
	b64 := strings.TrimSuffix(line[strings.LastIndexByte(line, ' ')+1:], "\n")
	c := b64[len(b64)-2]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	lax := b64[:len(b64)-2] + string(alphabet[strings.IndexByte(alphabet, c)|1]) + "="
	nc := strings.Replace(msg, b64, lax, 1)
	if _, err := c2sp.OpenCheckpoint([]byte(nc), a.Key.VKey(), nil); !errors.As(err, &se) {
		t.Fatalf("want a StrictError for non-canonical base64, got %v", err)
	}
}
