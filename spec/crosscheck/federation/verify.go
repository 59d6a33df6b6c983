package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"cairn/crosscheck/internal/c2sp"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Testnet is testnet.json (DESIGN §5).
type Testnet struct {
	Nodes []Node `json:"nodes"`
}

// Node is one member as testnet.json describes it.
type Node struct {
	Name        string `json:"name"`
	Origin      string `json:"origin"`
	VKey        string `json:"vkey"`
	WitnessVKey string `json:"witness_vkey"`
	HTTP        string `json:"http"`
	Token       string `json:"token"`
}

// LogInfo is one element of GET /logs.
type LogInfo struct {
	Name   string `json:"name"`
	Origin string `json:"origin"`
	VKey   string `json:"vkey"`
	Size   int64  `json:"size"`
	Frozen bool   `json:"frozen"`
}

// Report counts what was checked and lists every problem found.
type Report struct {
	Nodes, Logs, Checkpoints, Cosignatures, Tiles, Bundles, Entries, Proofs int
	// Redacted counts redaction markers checked in place of entries (spec/redaction.md).
	Redacted int
	Problems []string
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Verifier checks a running federation over HTTP.
type Verifier struct {
	Client  *http.Client
	Testnet Testnet
	// EntriesFromAll downloads tiles and entry bundles from every node, not
	// only from the log's owner.
	EntriesFromAll bool
	Log            io.Writer
}

func (v *Verifier) get(url, token string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := v.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	return body, nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// nodeView is what one node serves for one log.
type nodeView struct {
	node Node
	info LogInfo
	body string // checkpoint note body
	sig  string // the log's signature line
	note []byte
}

// Run checks every log on every node.
func (v *Verifier) Run() *Report {
	r := &Report{Nodes: len(v.Testnet.Nodes)}
	byOrigin := map[string]Node{}
	for _, n := range v.Testnet.Nodes {
		if _, dup := byOrigin[n.Origin]; dup {
			r.problem("testnet.json: origin %s appears twice", n.Origin)
		}
		byOrigin[n.Origin] = n
		if name, _, _, err := c2sp.ParseVKey(n.VKey); err != nil || name != n.Origin {
			r.problem("testnet.json: node %s: vkey %q is not a verifier key named %s (%v)", n.Name, n.VKey, n.Origin, err)
		}
		if _, err := c2sp.NewCosignatureVerifier(n.WitnessVKey); err != nil {
			r.problem("testnet.json: node %s: witness_vkey: %v", n.Name, err)
		}
	}
	views := map[string][]nodeView{} // origin -> what each node serves
	for _, n := range v.Testnet.Nodes {
		base := c2sp.TrimSlash(n.HTTP)
		raw, err := v.get(base+"/logs", "")
		if err != nil {
			r.problem("node %s: %v", n.Name, err)
			continue
		}
		var logs []LogInfo
		if err := json.Unmarshal(raw, &logs); err != nil {
			r.problem("node %s: GET /logs is not a JSON array of logs: %v", n.Name, err)
			continue
		}
		seen := map[string]bool{}
		for _, li := range logs {
			seen[li.Origin] = true
			owner, ok := byOrigin[li.Origin]
			if !ok {
				r.problem("node %s: serves log %q, which is not a member in testnet.json", n.Name, li.Origin)
				continue
			}
			if li.VKey != owner.VKey {
				r.problem("node %s: /logs gives %s the vkey %q, testnet.json has %q", n.Name, li.Origin, li.VKey, owner.VKey)
			}
			if li.Frozen {
				r.problem("node %s: log %s is frozen", n.Name, li.Origin)
			}
			if li.Name == "" || strings.ContainsAny(li.Name, "/?#") {
				r.problem("node %s: log %s has name %q, not a URL segment", n.Name, li.Origin, li.Name)
				continue
			}
			view, err := v.checkpoint(r, n, owner, li)
			if err != nil {
				r.problem("node %s: log %s: %v", n.Name, li.Origin, err)
				continue
			}
			views[li.Origin] = append(views[li.Origin], view)
		}
		for origin := range byOrigin {
			if !seen[origin] {
				r.problem("node %s: does not list log %s in /logs", n.Name, origin)
			}
		}
	}
	origins := make([]string, 0, len(byOrigin))
	for o := range byOrigin {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	for _, origin := range origins {
		vs := views[origin]
		if len(vs) == 0 {
			continue
		}
		r.Logs++
		same := true
		for _, w := range vs[1:] {
			if w.body != vs[0].body || w.sig != vs[0].sig {
				same = false
				r.problem("log %s: node %s serves checkpoint %q, node %s serves %q", origin,
					vs[0].node.Name, vs[0].body, w.node.Name, w.body)
			}
		}
		if !same {
			continue
		}
		cp, _ := c2sp.ParseCheckpoint(vs[0].body)
		targets := vs
		if !v.EntriesFromAll {
			targets = nil
			for _, w := range vs {
				if w.node.Origin == origin {
					targets = []nodeView{w}
				}
			}
			if targets == nil {
				targets = vs[:1]
			}
		}
		for _, w := range targets {
			if err := v.checkTree(r, w, byOrigin[origin], cp); err != nil {
				r.problem("log %s on node %s: %v", origin, w.node.Name, err)
			}
		}
	}
	return r
}

// checkpoint fetches and verifies one node's checkpoint for one log: the
// owner's signature and a cosignature from every other member.
func (v *Verifier) checkpoint(r *Report, n, owner Node, li LogInfo) (nodeView, error) {
	base := c2sp.TrimSlash(n.HTTP) + "/logs/" + li.Name
	msg, err := v.get(base+"/checkpoint", "")
	if err != nil {
		return nodeView{}, err
	}
	var witnesses []string
	for _, m := range v.Testnet.Nodes {
		if m.Origin != owner.Origin {
			witnesses = append(witnesses, m.WitnessVKey)
		}
	}
	o, err := c2sp.OpenCheckpoint(msg, owner.VKey, witnesses)
	if err != nil {
		return nodeView{}, fmt.Errorf("checkpoint: %v", err)
	}
	r.Checkpoints++
	r.Cosignatures += len(o.Cosigned)
	if o.Checkpoint.Size != li.Size {
		fmt.Fprintf(v.Log, "note: node %s: /logs says %s has size %d, its checkpoint has %d\n", n.Name, li.Origin, li.Size, o.Checkpoint.Size)
	}
	view := nodeView{node: n, info: li, body: o.Note.Text, note: msg}
	logV, _ := note.NewVerifier(owner.VKey)
	for _, s := range o.Note.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			view.sig = s.Base64
		}
	}
	return view, nil
}

// tileReader serves tlog.TileHashReader from a node's tile API, with the
// c2sp path layout (no height segment).
type tileReader struct {
	v     *Verifier
	base  string
	token string
	cache map[string][]byte
	count *int
}

func (t *tileReader) Height() int { return c2sp.TileHeight }

func (t *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := c2sp.TilePath(tile.L, tile.N, tile.W)
		if d, ok := t.cache[path]; ok {
			out[i] = d
			continue
		}
		d, err := t.v.get(t.base+"/"+path, t.token)
		if err != nil {
			return nil, err
		}
		if len(d) != tile.W*tlog.HashSize {
			return nil, fmt.Errorf("%s is %d bytes, want %d", path, len(d), tile.W*tlog.HashSize)
		}
		t.cache[path] = d
		*t.count++
		out[i] = d
	}
	return out, nil
}

func (t *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// checkTree downloads every tile and entry bundle of one log from one node
// for the checkpoint's size and checks them against the root:
//
//   - every entry hashes (tlog.RecordHash) to its hash in the level-0 tiles,
//     is a canonical [record, sig] signed by the log's key, and has v=1,
//     log=origin and seq=its index; a redaction marker (first byte 0xff)
//     in an entry's place must carry a notice signed by the log's key under
//     "cairn/redaction/v1\0" that names this log and index, and whose id
//     is the leaf in the tiles;
//   - the root recomputed from the level-0 hashes with tlog.StoredHashes
//     and tlog.TreeHash equals the checkpoint's root;
//   - every hash at level L >= 1 equals the Merkle hash of the full tile
//     below it, so every tile, full or partial, is bound to the root;
//   - tlog.TreeHash over tlog.TileHashReader also gives the root.
//
// The per-tile check is done here rather than trusted to TileHashReader:
// x/mod v0.7.0's TileHashReader.ReadHashes skips authenticating some
// requested tiles when the tree's right-edge subtrees share a tile (its
// "authenticate full tiles against their parents" loop starts at len(stx),
// the number of subtree hashes, not the number of distinct tiles fetched
// for them), so for sizes such as 600 it returns tampered level-0 hashes.
func (v *Verifier) checkTree(r *Report, w nodeView, owner Node, cp c2sp.Checkpoint) error {
	if cp.Size == 0 {
		if cp.Root != c2sp.EmptyRoot {
			return fmt.Errorf("size 0 with root %s, want the empty-tree hash", cp.Root)
		}
		return nil
	}
	_, _, pub, err := c2sp.ParseVKey(owner.VKey)
	if err != nil {
		return err
	}
	base := c2sp.TrimSlash(w.node.HTTP) + "/logs/" + w.info.Name
	tr := &tileReader{v: v, base: base, token: w.node.Token, cache: map[string][]byte{}, count: &r.Tiles}

	// levels[L] holds every hash at tile level L (stored-hash level 8L).
	var levels [][]tlog.Hash
	for level, count := 0, cp.Size; count > 0; level, count = level+1, count>>c2sp.TileHeight {
		var hashes []tlog.Hash
		for n := int64(0); n*c2sp.TileWidth < count; n++ {
			width := count - n*c2sp.TileWidth
			if width > c2sp.TileWidth {
				width = c2sp.TileWidth
			}
			data, err := tr.ReadTiles([]tlog.Tile{{H: c2sp.TileHeight, L: level, N: n, W: int(width)}})
			if err != nil {
				return fmt.Errorf("tiles: %v", err)
			}
			for i := 0; i < int(width); i++ {
				var h tlog.Hash
				copy(h[:], data[0][i*tlog.HashSize:])
				hashes = append(hashes, h)
			}
		}
		levels = append(levels, hashes)
	}
	for level := 1; level < len(levels); level++ {
		below := levels[level-1]
		for i, h := range levels[level] {
			if got := merkleHash(below[i*c2sp.TileWidth : (i+1)*c2sp.TileWidth]); got != h {
				return fmt.Errorf("hash %d of tile level %d is not the hash of tile %s", i, level,
					c2sp.TilePath(level-1, int64(i), c2sp.TileWidth))
			}
		}
	}
	var stored memHashes
	for i, leaf := range levels[0] {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), leaf, stored)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	if root, _ := tlog.TreeHash(cp.Size, stored); root != cp.Root {
		return fmt.Errorf("level-0 tiles give root %s, checkpoint has %s", root, cp.Root)
	}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Root}, tr)
	if root, err := tlog.TreeHash(cp.Size, hr); err != nil || root != cp.Root {
		return fmt.Errorf("tlog.TileHashReader: root %s, err %v", root, err)
	}

	for start := int64(0); start < cp.Size; start += c2sp.TileWidth {
		width := int(cp.Size - start)
		if width > c2sp.TileWidth {
			width = c2sp.TileWidth
		}
		path := c2sp.EntriesPath(start/c2sp.TileWidth, width)
		data, err := v.get(base+"/"+path, w.node.Token)
		if err != nil {
			return err
		}
		r.Bundles++
		entries, err := c2sp.ParseBundle(data)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if len(entries) != width {
			return fmt.Errorf("%s holds %d entries, want %d", path, len(entries), width)
		}
		for i, e := range entries {
			n := start + int64(i)
			if c2sp.IsMarker(e) {
				red, err := c2sp.OpenMarker(e, pub, owner.Origin, n)
				if err != nil {
					return fmt.Errorf("entry %d: redaction marker: %v", n, err)
				}
				if tlog.Hash(red.ID) != levels[0][n] {
					return fmt.Errorf("entry %d: the redaction marker names a leaf hash that is not the one in the tiles", n)
				}
				r.Redacted++
				continue
			}
			if tlog.RecordHash(e) != levels[0][n] {
				return fmt.Errorf("entry %d does not hash to its leaf in the tiles", n)
			}
			ent, err := c2sp.OpenEntry(e, pub)
			if err != nil {
				return fmt.Errorf("entry %d: %v", n, err)
			}
			if err := ent.CheckPlacement(owner.Origin, n); err != nil {
				return fmt.Errorf("entry %d: %v", n, err)
			}
			r.Entries++
		}
	}
	return v.checkProofs(r, w, owner, cp, levels[0])
}

// checkProofs fetches GET /logs/<name>/proof/<index> (c2sp.org/tlog-proof)
// for the first, middle and last entry and verifies each offline: its
// checkpoint with the owner's key, inclusion with tlog.CheckRecord.
func (v *Verifier) checkProofs(r *Report, w nodeView, owner Node, cp c2sp.Checkpoint, leaves []tlog.Hash) error {
	base := c2sp.TrimSlash(w.node.HTTP) + "/logs/" + w.info.Name
	for _, idx := range []int64{0, cp.Size / 2, cp.Size - 1} {
		text, err := v.get(fmt.Sprintf("%s/proof/%d", base, idx), w.node.Token)
		if err != nil {
			return err
		}
		p, err := c2sp.ParseProof(string(text))
		if err != nil {
			return fmt.Errorf("proof/%d: %v", idx, err)
		}
		if p.Index != idx {
			return fmt.Errorf("proof/%d: the proof is for index %d", idx, p.Index)
		}
		o, err := c2sp.OpenCheckpoint(p.Checkpoint, owner.VKey, nil)
		if err != nil {
			return fmt.Errorf("proof/%d: checkpoint: %v", idx, err)
		}
		pc := o.Checkpoint
		if pc.Size > cp.Size || pc.Size <= idx {
			return fmt.Errorf("proof/%d: checkpoint size %d, tree checked at %d", idx, pc.Size, cp.Size)
		}
		if err := tlog.CheckRecord(p.Path, pc.Size, pc.Root, idx, leaves[idx]); err != nil {
			return fmt.Errorf("proof/%d: tlog.CheckRecord: %v", idx, err)
		}
		r.Proofs++
	}
	return nil
}

// merkleHash is the RFC 6962 hash of a power-of-two run of subtree hashes.
func merkleHash(hs []tlog.Hash) tlog.Hash {
	if len(hs) == 1 {
		return hs[0]
	}
	return tlog.NodeHash(merkleHash(hs[:len(hs)/2]), merkleHash(hs[len(hs)/2:]))
}

type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not available", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// NewClient is an HTTP client with sane timeouts for loopback testnets.
func NewClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
