#!/usr/bin/env python3
"""Write vocabulary-only GGUF files (metadata, no tensors) for tokenizer tests.

Reads only the metadata header of a (possibly truncated) GGUF model file, keeps
`general.architecture` and the `tokenizer.*` keys, and writes them with
gguf-py's GGUFWriter. llama.cpp's `llama-tokenize` loads such files (it only
loads the vocabulary).

    python3 scripts/make_vocab_fixtures.py SRC.gguf DST.gguf [--drop KEY ...]

See tests/fixtures/vocab/README.md for the exact commands used.
"""
import argparse
import struct
import sys

import gguf
from gguf import GGUFValueType as T

SCALAR = {
    T.UINT8: "<B", T.INT8: "<b", T.UINT16: "<H", T.INT16: "<h",
    T.UINT32: "<I", T.INT32: "<i", T.FLOAT32: "<f", T.BOOL: "<?",
    T.UINT64: "<Q", T.INT64: "<q", T.FLOAT64: "<d",
}


def read_metadata(path):
    """Parse the GGUF key/value section only (the file may be truncated after it)."""
    with open(path, "rb") as f:
        def rd(fmt):
            n = struct.calcsize(fmt)
            return struct.unpack(fmt, f.read(n))[0]

        def rstr():
            n = rd("<Q")
            return f.read(n).decode("utf-8", errors="surrogateescape")

        def rval(vt):
            if vt == T.STRING:
                return rstr()
            if vt == T.ARRAY:
                st = T(rd("<I"))
                n = rd("<Q")
                if st in SCALAR:
                    fmt = SCALAR[st]
                    size = struct.calcsize(fmt)
                    data = f.read(size * n)
                    return (st, list(struct.unpack("<" + fmt[1:] * n, data)))
                return (st, [rval(st) for _ in range(n)])
            return rd(SCALAR[vt])

        if f.read(4) != b"GGUF":
            sys.exit(f"{path}: not a GGUF file")
        version = rd("<I")
        n_tensors = rd("<Q")
        n_kv = rd("<Q")
        kv = {}
        for _ in range(n_kv):
            key = rstr()
            vt = T(rd("<I"))
            kv[key] = (vt, rval(vt))
        return version, n_tensors, kv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--drop", action="append", default=[], help="metadata key to leave out")
    args = ap.parse_args()

    _, _, kv = read_metadata(args.src)
    arch = kv["general.architecture"][1]
    w = gguf.GGUFWriter(args.dst, arch)
    for key, (vt, val) in kv.items():
        if key == "general.architecture" or key in args.drop:
            continue
        if not key.startswith("tokenizer."):
            continue
        if vt == T.ARRAY:
            st, items = val
            w.add_key_value(key, items, vt, sub_type=st)
        else:
            w.add_key_value(key, val, vt)
        shown = f"array[{len(val[1])}]" if vt == T.ARRAY else repr(val)[:60]
        print(f"  {key} = {shown}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
