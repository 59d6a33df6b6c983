// Package cbor is a minimal, strict decoder for RFC 8949 §4.2.1 core
// deterministic CBOR, written from the RFC for cross-checking cairn entries
// independently of cairn's own (TypeScript) codec. It accepts only what
// cairn's contract allows: unsigned and negative integers, byte and text
// strings, arrays, maps, false/true/null; shortest-form heads, definite
// lengths, map keys strictly increasing bytewise on their encodings (so no
// duplicates), no tags, no floats, no undefined, no trailing bytes.
//
// It also has a matching encoder, used by tests to build entries.
package cbor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Kind is the type of a decoded item.
type Kind int

const (
	Uint Kind = iota
	Negint
	Bytes
	Text
	Array
	Map
	Bool
	Null
)

// Value is one decoded CBOR item.
type Value struct {
	Kind  Kind
	Uint  uint64 // Uint: the value; Negint: the value is -1-Uint
	Bytes []byte
	Text  string
	Array []Value
	Map   []Pair // in encoded (sorted) order
	Bool  bool
}

// Pair is one map entry.
type Pair struct {
	Key, Val Value
}

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 16

// Decode decodes exactly one canonical item that spans all of data.
func Decode(data []byte) (Value, error) {
	d := decoder{data: data}
	v, err := d.item(0)
	if err != nil {
		return Value{}, err
	}
	if d.pos != len(data) {
		return Value{}, fmt.Errorf("cbor: %d trailing bytes after the item", len(data)-d.pos)
	}
	return v, nil
}

type decoder struct {
	data []byte
	pos  int
}

func (d *decoder) need(n uint64) error {
	if n > uint64(len(d.data)-d.pos) {
		return fmt.Errorf("cbor: truncated input at offset %d", d.pos)
	}
	return nil
}

// head reads an initial byte and its argument, enforcing the shortest form.
func (d *decoder) head() (major byte, ai byte, arg uint64, err error) {
	if err = d.need(1); err != nil {
		return
	}
	b := d.data[d.pos]
	d.pos++
	major, ai = b>>5, b&0x1f
	switch {
	case ai < 24:
		arg = uint64(ai)
	case ai == 24:
		if err = d.need(1); err != nil {
			return
		}
		arg = uint64(d.data[d.pos])
		d.pos++
		if arg < 24 && major != 7 {
			err = fmt.Errorf("cbor: non-shortest argument at offset %d", d.pos-2)
		}
	case ai == 25:
		if err = d.need(2); err != nil {
			return
		}
		arg = uint64(binary.BigEndian.Uint16(d.data[d.pos:]))
		d.pos += 2
		if arg <= 0xff && major != 7 {
			err = fmt.Errorf("cbor: non-shortest argument at offset %d", d.pos-3)
		}
	case ai == 26:
		if err = d.need(4); err != nil {
			return
		}
		arg = uint64(binary.BigEndian.Uint32(d.data[d.pos:]))
		d.pos += 4
		if arg <= 0xffff && major != 7 {
			err = fmt.Errorf("cbor: non-shortest argument at offset %d", d.pos-5)
		}
	case ai == 27:
		if err = d.need(8); err != nil {
			return
		}
		arg = binary.BigEndian.Uint64(d.data[d.pos:])
		d.pos += 8
		if arg <= 0xffffffff && major != 7 {
			err = fmt.Errorf("cbor: non-shortest argument at offset %d", d.pos-9)
		}
	case ai == 31:
		err = fmt.Errorf("cbor: indefinite length at offset %d", d.pos-1)
	default:
		err = fmt.Errorf("cbor: reserved additional info %d at offset %d", ai, d.pos-1)
	}
	return
}

func (d *decoder) item(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, fmt.Errorf("cbor: nesting deeper than %d", MaxDepth)
	}
	start := d.pos
	major, ai, arg, err := d.head()
	if err != nil {
		return Value{}, err
	}
	switch major {
	case 0:
		return Value{Kind: Uint, Uint: arg}, nil
	case 1:
		return Value{Kind: Negint, Uint: arg}, nil
	case 2, 3:
		if err := d.need(arg); err != nil {
			return Value{}, err
		}
		b := d.data[d.pos : d.pos+int(arg)]
		d.pos += int(arg)
		if major == 2 {
			return Value{Kind: Bytes, Bytes: append([]byte(nil), b...)}, nil
		}
		if !utf8.Valid(b) {
			return Value{}, fmt.Errorf("cbor: invalid UTF-8 in text string at offset %d", start)
		}
		return Value{Kind: Text, Text: string(b)}, nil
	case 4:
		if err := d.need(arg); err != nil { // every item is at least one byte
			return Value{}, err
		}
		v := Value{Kind: Array, Array: make([]Value, 0, arg)}
		for i := uint64(0); i < arg; i++ {
			e, err := d.item(depth + 1)
			if err != nil {
				return Value{}, err
			}
			v.Array = append(v.Array, e)
		}
		return v, nil
	case 5:
		if err := d.need(arg * 2); err != nil || arg > uint64(len(d.data)) {
			return Value{}, fmt.Errorf("cbor: truncated map at offset %d", start)
		}
		v := Value{Kind: Map, Map: make([]Pair, 0, arg)}
		var prevKey []byte
		for i := uint64(0); i < arg; i++ {
			ks := d.pos
			k, err := d.item(depth + 1)
			if err != nil {
				return Value{}, err
			}
			kenc := d.data[ks:d.pos]
			if prevKey != nil {
				c := bytes.Compare(prevKey, kenc)
				if c == 0 {
					return Value{}, fmt.Errorf("cbor: duplicate map key at offset %d", ks)
				}
				if c > 0 {
					return Value{}, fmt.Errorf("cbor: map keys not in bytewise order at offset %d", ks)
				}
			}
			prevKey = kenc
			val, err := d.item(depth + 1)
			if err != nil {
				return Value{}, err
			}
			v.Map = append(v.Map, Pair{Key: k, Val: val})
		}
		return v, nil
	case 6:
		return Value{}, fmt.Errorf("cbor: tag %d at offset %d (tags are not allowed)", arg, start)
	default: // 7
		switch {
		case ai == 20:
			return Value{Kind: Bool, Bool: false}, nil
		case ai == 21:
			return Value{Kind: Bool, Bool: true}, nil
		case ai == 22:
			return Value{Kind: Null}, nil
		case ai == 23:
			return Value{}, fmt.Errorf("cbor: undefined at offset %d", start)
		case ai >= 25 && ai <= 27:
			return Value{}, fmt.Errorf("cbor: float at offset %d (floats are not allowed)", start)
		default:
			return Value{}, fmt.Errorf("cbor: simple value %d at offset %d", arg, start)
		}
	}
}

// Get returns the value under a text key of a map, if present.
func (v Value) Get(key string) (Value, bool) {
	for _, p := range v.Map {
		if p.Key.Kind == Text && p.Key.Text == key {
			return p.Val, true
		}
	}
	return Value{}, false
}

// --- encoder (canonical by construction; used by tests and fake servers) ---

func appendHead(b []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(b, m|byte(arg))
	case arg <= 0xff:
		return append(b, m|24, byte(arg))
	case arg <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(arg))
	case arg <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(arg))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), arg)
	}
}

// EncodeBytes encodes a byte string.
func EncodeBytes(p []byte) []byte { return append(appendHead(nil, 2, uint64(len(p))), p...) }

// EncodeText encodes a text string.
func EncodeText(s string) []byte { return append(appendHead(nil, 3, uint64(len(s))), s...) }

// EncodeUint encodes an unsigned integer.
func EncodeUint(n uint64) []byte { return appendHead(nil, 0, n) }

// EncodeArray encodes an array of already-encoded items.
func EncodeArray(items ...[]byte) []byte {
	b := appendHead(nil, 4, uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

// EncodeMap encodes a map of text keys to already-encoded values, sorting
// keys bytewise on their encodings.
func EncodeMap(m map[string][]byte) []byte {
	type kv struct{ k, v []byte }
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{EncodeText(k), v})
	}
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && bytes.Compare(kvs[j-1].k, kvs[j].k) > 0; j-- {
			kvs[j-1], kvs[j] = kvs[j], kvs[j-1]
		}
	}
	b := appendHead(nil, 5, uint64(len(kvs)))
	for _, e := range kvs {
		b = append(b, e.k...)
		b = append(b, e.v...)
	}
	return b
}
