package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"cairn/crosscheck/internal/c2sp"
	"cairn/crosscheck/internal/fake"

	"golang.org/x/mod/sumdb/tlog"
)

// fakeNode serves the contract's read API (DESIGN §4) for a set of logs.
type fakeNode struct {
	name, token string
	logs        []*fake.Log
	checkpoint  map[string][]byte // origin -> served checkpoint
	size        map[string]int64  // origin -> served tree size
	entry       func(origin string, n int64, e []byte) []byte
	tile        func(path string, d []byte) []byte
	proof       func(text string) string
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/logs" {
		var out []LogInfo
		for _, l := range f.logs {
			out = append(out, LogInfo{Name: logName(l), Origin: l.Origin, VKey: l.Key.VKey(), Size: f.size[l.Origin]})
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	for _, l := range f.logs {
		prefix := "/logs/" + logName(l) + "/"
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		rest := path[len(prefix):]
		if strings.HasPrefix(rest, "proof/") && r.Header.Get("Authorization") == "Bearer "+f.token {
			idx, err := strconv.ParseInt(rest[len("proof/"):], 10, 64)
			size := f.size[l.Origin]
			if err != nil || idx < 0 || idx >= size {
				http.NotFound(w, r)
				return
			}
			p, _ := tlog.ProveRecord(size, idx, l.Hashes)
			text := fmt.Sprintf("c2sp.org/tlog-proof@v1\nindex %d\n", idx)
			for _, h := range p {
				text += h.String() + "\n"
			}
			if f.proof != nil {
				text = f.proof(text)
			}
			w.Write([]byte(text + "\n" + string(f.checkpoint[l.Origin])))
			return
		}
		if rest == "checkpoint" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(f.checkpoint[l.Origin])
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			http.Error(w, "auditor token required", http.StatusUnauthorized)
			return
		}
		d, ok := f.serveTile(l, rest)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(d)
		return
	}
	http.NotFound(w, r)
}

func logName(l *fake.Log) string { return l.Origin[strings.LastIndexByte(l.Origin, '/')+1:] }

// parseTile parses tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>];
// level -1 means entries.
func parseTile(p string) (level int, n int64, w int, ok bool) {
	f := strings.Split(p, "/")
	if len(f) < 3 || f[0] != "tile" {
		return 0, 0, 0, false
	}
	if f[1] == "entries" {
		level = -1
	} else if l, err := strconv.Atoi(f[1]); err == nil && l >= 0 && l < 64 && strconv.Itoa(l) == f[1] {
		level = l
	} else {
		return 0, 0, 0, false
	}
	f = f[2:]
	w = c2sp.TileWidth
	if len(f) >= 2 && strings.HasSuffix(f[len(f)-2], ".p") {
		ww, err := strconv.Atoi(f[len(f)-1])
		if err != nil || ww < 1 || ww > 255 {
			return 0, 0, 0, false
		}
		w = ww
		f[len(f)-2] = strings.TrimSuffix(f[len(f)-2], ".p")
		f = f[:len(f)-1]
	}
	for _, s := range f {
		k, err := strconv.Atoi(strings.TrimPrefix(s, "x"))
		if err != nil {
			return 0, 0, 0, false
		}
		n = n*1000 + int64(k)
	}
	if c2sp.EncodeIndex(n) != strings.Join(f, "/") {
		return 0, 0, 0, false
	}
	return level, n, w, true
}

func (f *fakeNode) serveTile(l *fake.Log, p string) ([]byte, bool) {
	level, n, w, ok := parseTile(p)
	if !ok {
		return nil, false
	}
	size := f.size[l.Origin]
	if level == -1 {
		start := n * c2sp.TileWidth
		if start+int64(w) > size {
			return nil, false
		}
		var b []byte
		for i := start; i < start+int64(w); i++ {
			e := l.Entries[i]
			if f.entry != nil {
				e = f.entry(l.Origin, i, e)
			}
			b = c2sp.AppendBundleEntry(b, e)
		}
		return b, true
	}
	// Hashes at this level are available for the first size>>(8*level) positions.
	if (n+1)*c2sp.TileWidth > size>>(8*level) && n*c2sp.TileWidth+int64(w) != size>>(8*level) {
		return nil, false
	}
	d, err := tlog.ReadTileData(tlog.Tile{H: 8, L: level, N: n, W: w}, l.Hashes)
	if err != nil {
		return nil, false
	}
	if f.tile != nil {
		d = f.tile(p, d)
	}
	return d, true
}

type fakeNet struct {
	logs    []*fake.Log
	nodes   []*fakeNode
	servers []*httptest.Server
	testnet Testnet
}

// newFakeNet builds three members whose logs have 600, 3 and 0 entries,
// each log's checkpoint cosigned by the two other members, served by all
// three nodes.
func newFakeNet(t *testing.T) *fakeNet {
	fn := &fakeNet{logs: []*fake.Log{
		fake.NewLog("demo.cairn/eu-centre", 600),
		fake.NewLog("demo.cairn/ncmec", 3),
		fake.NewLog("demo.cairn/c3p", 0),
	}}
	for i, owner := range fn.logs {
		node := &fakeNode{name: logName(owner), token: fmt.Sprintf("tok-%d", i), logs: fn.logs,
			checkpoint: map[string][]byte{}, size: map[string]int64{}}
		for _, l := range fn.logs {
			var others []*fake.Log
			for _, o := range fn.logs {
				if o != l {
					others = append(others, o)
				}
			}
			n := int64(len(l.Entries))
			node.checkpoint[l.Origin] = l.Checkpoint(n, 1767225600, others...)
			node.size[l.Origin] = n
		}
		srv := httptest.NewServer(node)
		t.Cleanup(srv.Close)
		fn.nodes = append(fn.nodes, node)
		fn.servers = append(fn.servers, srv)
		fn.testnet.Nodes = append(fn.testnet.Nodes, Node{Name: node.name, Origin: owner.Origin, VKey: owner.Key.VKey(),
			WitnessVKey: owner.WitnessVKey(), HTTP: srv.URL + "/", Token: node.token})
	}
	return fn
}

func (fn *fakeNet) run(t *testing.T) *Report {
	var log bytes.Buffer
	v := &Verifier{Client: NewClient(), Testnet: fn.testnet, EntriesFromAll: true, Log: &log}
	r := v.Run()
	t.Logf("%+v %s", *r, log.String())
	return r
}

func expectProblem(t *testing.T, r *Report, substr string) {
	t.Helper()
	for _, p := range r.Problems {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Fatalf("no problem mentions %q; problems: %q", substr, r.Problems)
}

func TestFederationHealthy(t *testing.T) {
	fn := newFakeNet(t)
	r := fn.run(t)
	if len(r.Problems) != 0 {
		t.Fatalf("problems on a healthy federation: %q", r.Problems)
	}
	if r.Logs != 3 || r.Checkpoints != 9 || r.Cosignatures != 18 || r.Entries != 3*603 || r.Bundles != 3*(3+1) || r.Proofs != 3*2*3 {
		t.Fatalf("unexpected counts %+v", *r)
	}
}

func TestFederationTamperedEntry(t *testing.T) {
	fn := newFakeNet(t)
	fn.nodes[1].entry = func(origin string, n int64, e []byte) []byte {
		if origin == "demo.cairn/eu-centre" && n == 300 {
			e = append([]byte(nil), e...)
			e[len(e)-1] ^= 1
		}
		return e
	}
	expectProblem(t, fn.run(t), "entry 300 does not hash to its leaf")
}

func TestFederationTamperedTile(t *testing.T) {
	fn := newFakeNet(t)
	fn.nodes[2].tile = func(p string, d []byte) []byte {
		if p == "tile/0/001" {
			d = append([]byte(nil), d...)
			d[5] ^= 1
		}
		return d
	}
	expectProblem(t, fn.run(t), "hash 1 of tile level 1 is not the hash of tile tile/0/001")
}

// TestFederationTamperedTileAndEntry: a node that swaps entry 300 and
// serves level-0 tiles that match it is caught by the level-1 check (x/mod's
// TileHashReader alone would not catch it at size 600).
func TestFederationTamperedTileAndEntry(t *testing.T) {
	fn := newFakeNet(t)
	other := fake.Entry(fn.logs[0].Key.Priv, "demo.cairn/eu-centre", 300)
	other[len(other)-1] ^= 1
	fn.nodes[1].entry = func(origin string, n int64, e []byte) []byte {
		if origin == "demo.cairn/eu-centre" && n == 300 {
			return other
		}
		return e
	}
	fn.nodes[1].tile = func(p string, d []byte) []byte {
		if strings.HasPrefix(p, "tile/0/001") {
			h := tlog.RecordHash(other)
			d = append([]byte(nil), d...)
			copy(d[(300-256)*tlog.HashSize:], h[:])
		}
		return d
	}
	r := fn.run(t)
	expectProblem(t, r, "log demo.cairn/eu-centre on node ncmec: hash 1 of tile level 1")
	if len(r.Problems) != 1 {
		t.Fatalf("want exactly one problem, got %q", r.Problems)
	}
}

func TestFederationMissingCosignature(t *testing.T) {
	fn := newFakeNet(t)
	a, b := fn.logs[0], fn.logs[1]
	fn.nodes[2].checkpoint[a.Origin] = a.Checkpoint(600, 1767225600, b)
	expectProblem(t, fn.run(t), "no cosignature by witness demo.cairn/c3p")
}

func TestFederationSplitView(t *testing.T) {
	fn := newFakeNet(t)
	a, b, c := fn.logs[0], fn.logs[1], fn.logs[2]
	fn.nodes[1].checkpoint[a.Origin] = a.Checkpoint(599, 1767225600, b, c)
	fn.nodes[1].size[a.Origin] = 599
	expectProblem(t, fn.run(t), "serves checkpoint")
}

func TestFederationBadEntrySignature(t *testing.T) {
	fn := newFakeNet(t)
	// The owner itself logs an entry whose signature is broken: the tree is
	// consistent, so only the per-entry signature check catches it.
	l := fake.NewLog("demo.cairn/ncmec", 0)
	for i := int64(0); i < 3; i++ {
		e := fake.Entry(l.Key.Priv, l.Origin, i)
		if i == 1 {
			e[len(e)-1] ^= 1
		}
		l.Append(e)
	}
	fn.logs[1].Entries, fn.logs[1].Hashes = l.Entries, l.Hashes
	for _, node := range fn.nodes {
		node.checkpoint[l.Origin] = fn.logs[1].Checkpoint(3, 1767225600, fn.logs[0], fn.logs[2])
	}
	expectProblem(t, fn.run(t), "entry 1: record signature does not verify")
}

func TestFederationBadProof(t *testing.T) {
	fn := newFakeNet(t)
	fn.nodes[0].proof = func(text string) string {
		if strings.Contains(text, "index 300\n") {
			return strings.Replace(text, "index 300\n", "index 301\n", 1)
		}
		return text
	}
	expectProblem(t, fn.run(t), "proof/300: the proof is for index 301")

	fn = newFakeNet(t)
	fn.nodes[2].proof = func(text string) string {
		lines := strings.Split(text, "\n")
		if len(lines) > 3 {
			lines[3] = tlog.RecordHash([]byte("x")).String()
		}
		return strings.Join(lines, "\n")
	}
	expectProblem(t, fn.run(t), "tlog.CheckRecord: invalid transparency proof")
}

// TestFederationRedactedEntry: entry 300 served as a valid redaction marker
// on every node passes; a marker signed by another key, or naming another
// leaf, is a problem.
func TestFederationRedactedEntry(t *testing.T) {
	fn := newFakeNet(t)
	a := fn.logs[0]
	marker := fake.Marker(a.Key.Priv, a.Origin, 300, tlog.RecordHash(a.Entries[300]))
	for _, node := range fn.nodes {
		node.entry = func(origin string, n int64, e []byte) []byte {
			if origin == a.Origin && n == 300 {
				return marker
			}
			return e
		}
	}
	r := fn.run(t)
	if len(r.Problems) != 0 {
		t.Fatalf("problems with a valid redaction marker: %q", r.Problems)
	}
	if r.Redacted != 3 || r.Entries != 3*603-3 {
		t.Fatalf("unexpected counts %+v", *r)
	}

	fn = newFakeNet(t)
	forged := fake.Marker(fn.logs[1].Key.Priv, a.Origin, 300, tlog.RecordHash(a.Entries[300]))
	fn.nodes[2].entry = func(origin string, n int64, e []byte) []byte {
		if origin == a.Origin && n == 300 {
			return forged
		}
		return e
	}
	expectProblem(t, fn.run(t), "entry 300: redaction marker: notice signature does not verify")

	fn = newFakeNet(t)
	wrong := fake.Marker(a.Key.Priv, a.Origin, 300, tlog.RecordHash(a.Entries[301]))
	fn.nodes[0].entry = func(origin string, n int64, e []byte) []byte {
		if origin == a.Origin && n == 300 {
			return wrong
		}
		return e
	}
	expectProblem(t, fn.run(t), "entry 300: the redaction marker names a leaf hash that is not the one in the tiles")

	fn = newFakeNet(t)
	elsewhere := fake.Marker(a.Key.Priv, a.Origin, 299, tlog.RecordHash(a.Entries[300]))
	fn.nodes[1].entry = func(origin string, n int64, e []byte) []byte {
		if origin == a.Origin && n == 300 {
			return elsewhere
		}
		return e
	}
	expectProblem(t, fn.run(t), "marker names index 299, found at 300")
}

func TestFederationNeedsToken(t *testing.T) {
	fn := newFakeNet(t)
	fn.testnet.Nodes[0].Token = "wrong"
	expectProblem(t, fn.run(t), "401")
}

func TestFakeTilePaths(t *testing.T) {
	for _, p := range []string{"tile/0/000", "tile/1/000.p/2", "tile/entries/x001/234.p/7"} {
		if _, _, _, ok := parseTile(p); !ok {
			t.Errorf("rejected %s", p)
		}
	}
	for _, p := range []string{"tile/00/000", "tile/0/0", "tile/0/000.p/256", "tile/0/1000"} {
		if _, _, _, ok := parseTile(p); ok {
			t.Errorf("accepted %s", p)
		}
	}
}
