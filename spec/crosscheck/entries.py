#!/usr/bin/python3
"""Cross-check spec/vectors/entries/*.json with Python's cbor2 and PyNaCl.

For each case: decode `entry` with cbor2; require canonical form (cbor2's
canonical re-encoding equals the input, and only the types cairn allows);
split [record, sig]; verify sig with PyNaCl (libsodium: strict, rejects
small-order and non-canonical keys and non-canonical S) over
b"cairn/record/v1\\x00" + record; require record_id == SHA-256(0x00 || entry);
decode the record map and compare it with the JSON `record` (bstr as hex).

Valid cases must pass every step (a failure exits 1). For invalid cases the
script reports which step cbor2/PyNaCl reject at, or that they accept it
(informational: many invalid cases break record rules only cairn knows).

cbor2's canonical mode sorts map keys length-first (RFC 7049 §3.9), not
bytewise (RFC 8949 §4.2.1). The two orders agree when every key is a text
string, which cairn's records require; the script checks that too.

Usage: /usr/bin/python3 spec/crosscheck/entries.py [spec/vectors/entries] [-v]
"""
import glob
import hashlib
import json
import os
import sys

import cbor2
import nacl.exceptions
import nacl.signing

CONTEXT = b"cairn/record/v1\x00"
MAX_ENTRY = 65535


class Reject(Exception):
    """A step rejected the entry; args[0] names the step."""


def check_types(obj, path="$"):
    """Only what cairn's canonical CBOR allows: no floats, tags, undefined."""
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, int):
        if not -(2**64) <= obj < 2**64:
            raise Reject(f"cbor2: {path} is a bignum (tag 2/3)")
        return
    if isinstance(obj, (bytes, str)):
        return
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check_types(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise Reject(f"cbor2: {path} has a non-text map key {k!r}")
            check_types(v, f"{path}.{k}")
        return
    raise Reject(f"cbor2: {path} is {type(obj).__name__}, not allowed (float, tag or undefined)")


def canonical_decode(data, what):
    try:
        obj = cbor2.loads(data)
    except Exception as e:  # cbor2 raises CBORDecodeError and ValueError subclasses
        raise Reject(f"cbor2: {what} does not decode: {e}")
    check_types(obj)
    again = cbor2.dumps(obj, canonical=True)
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), len(data)))
        raise Reject(f"cbor2: {what} is not canonical (canonical re-encoding differs at byte {at}, "
                     f"{len(again)} vs {len(data)} bytes)")
    return obj


def open_entry(entry, public_key):
    """Returns (record_bytes, record_map) or raises Reject."""
    if len(entry) > MAX_ENTRY:
        raise Reject(f"size: entry is {len(entry)} bytes, over {MAX_ENTRY}")
    arr = canonical_decode(entry, "entry")
    if not (isinstance(arr, list) and len(arr) == 2
            and isinstance(arr[0], bytes) and isinstance(arr[1], bytes)):
        raise Reject("cbor2: entry is not [record: bstr, sig: bstr]")
    record, sig = arr
    if len(sig) != 64:
        raise Reject(f"shape: sig is {len(sig)} bytes, want 64")
    rec = canonical_decode(record, "record")
    if not isinstance(rec, dict):
        raise Reject("cbor2: record is not a map")
    try:
        nacl.signing.VerifyKey(public_key).verify(CONTEXT + record, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError) as e:
        raise Reject(f"PyNaCl: signature rejected ({e})")
    return record, rec


def compare(cbor_value, json_value, path):
    if isinstance(cbor_value, bytes):
        if json_value != cbor_value.hex():
            return f"{path}: CBOR bstr {cbor_value.hex()} vs JSON {json_value!r}"
    elif isinstance(cbor_value, dict):
        if not isinstance(json_value, dict) or set(cbor_value) != set(json_value):
            return f"{path}: CBOR keys {sorted(cbor_value)} vs JSON {json_value!r}"
        for k in cbor_value:
            err = compare(cbor_value[k], json_value[k], f"{path}.{k}")
            if err:
                return err
    elif isinstance(cbor_value, list):
        if not isinstance(json_value, list) or len(json_value) != len(cbor_value):
            return f"{path}: CBOR array of {len(cbor_value)} vs JSON {json_value!r}"
        for i, (c, j) in enumerate(zip(cbor_value, json_value)):
            err = compare(c, j, f"{path}[{i}]")
            if err:
                return err
    elif type(cbor_value) is not type(json_value) or cbor_value != json_value:
        return f"{path}: CBOR {cbor_value!r} vs JSON {json_value!r}"
    return None


def outside_subset(obj):
    """Values deterministic CBOR allows but cairn's records never use."""
    if isinstance(obj, bool):
        return "a boolean"
    if obj is None:
        return "null"
    if isinstance(obj, int):
        return "a negative integer" if obj < 0 else ("an integer past 2^53-1" if obj > 2**53 - 1 else None)
    if isinstance(obj, list):
        return next((w for w in map(outside_subset, obj) if w), None)
    if isinstance(obj, dict):
        return next((w for w in map(outside_subset, obj.values()) if w), None)
    return None


def check_case(case):
    """Returns None if every step passes, else the first failing step's text."""
    try:
        public_key = bytes.fromhex(case["public_key"])
        entry = bytes.fromhex(case["entry"])
        _, rec = open_entry(entry, public_key)
    except Reject as e:
        return str(e)
    except (KeyError, ValueError) as e:
        return f"vector: bad field ({e})"
    if not case.get("valid"):
        why = outside_subset(rec)
        if why:
            case["_subset"] = why
        return None
    want_id = hashlib.sha256(b"\x00" + entry).hexdigest()
    if case.get("record_id") != want_id:
        return f"record_id: vector has {case.get('record_id')}, SHA-256(0x00||entry) is {want_id}"
    return compare(rec, case.get("record"), "record")


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    here = os.path.dirname(os.path.abspath(__file__))
    folder = args[0] if args else os.path.join(here, "..", "vectors", "entries")
    files = sorted(glob.glob(os.path.join(folder, "*.json")))
    ok = failed = rejected = accepted = 0
    failures = []
    for path in files:
        name = os.path.basename(path)[:-5]
        with open(path, encoding="utf-8") as f:
            case = json.load(f)
        err = check_case(case)
        if case.get("valid"):
            if err is None:
                ok += 1
                if verbose:
                    print(f"  ok    {name}")
            else:
                failed += 1
                failures.append(f"FAIL entries/{name} (valid: {case.get('description')}): {err}")
        elif err is not None:
            rejected += 1
            print(f"  info  entries/{name} ({case.get('error')}): rejected by {err}")
        else:
            accepted += 1
            rule = (f"RFC 8949 allows {case['_subset']}, cairn's narrower CBOR subset does not"
                    if "_subset" in case else "cairn-semantic rule")
            print(f"  info  entries/{name} ({case.get('error')}: {case.get('description')}): "
                  f"cbor2 and PyNaCl accept it ({rule})")
    print(f"entries/     {len(files):3d} files: valid {ok} ok, {failed} FAILED; "
          f"invalid {rejected} rejected by cbor2/PyNaCl, {accepted} accepted (semantic rules)")
    for line in failures:
        print(line)
    if not files:
        print(f"no vectors found under {folder}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
