#!/usr/bin/env python3
"""Write the quantization fixtures of `crates/backend-cpu/tests/quant_formats.rs`.

The CPU backend's dequantizers are checked bit for bit against an independent
implementation: gguf-py's numpy (de)quantizers (PyPI package `gguf`). This
script runs them once, with a fixed seed, and stores inputs and outputs so the
Rust test needs no Python:

    pip install gguf numpy
    python3 scripts/make_quant_fixtures.py

For every type it writes `crates/backend-cpu/tests/fixtures/quant/<type>.bin`
(little-endian throughout):

    offset  size            field
    0       4               magic b"RFQF"
    4       4   u32         format version (1)
    8       4   u32         ggml type id
    12      4   u32         n_deq: elements in the dequantization case
    16      4   u32         n_quant: elements in the quantization case (0: none)
    20      row_bytes(n_deq)   random blocks (scale fields made finite)
            4 * n_deq          gguf-py's dequantization of them, f32
            4 * n_quant        an f32 input row
            row_bytes(n_quant) gguf-py's quantization of it

The quantization case is only written where gguf-py's quantizer is ggml's
reference algorithm (the legacy types, F16 and BF16); gguf-py has no K-quant
quantizer, and ggml's K-quant reference quantizers are search-based, not
something the oracle reproduces.
"""

from __future__ import annotations

import pathlib
import struct
import sys
from importlib import metadata

import numpy as np

from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

SEED = 20261130
FORMAT_VERSION = 1
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "backend-cpu" / "tests" / "fixtures" / "quant"

# name, type, byte offsets of the f16 scale fields inside one block, blocks in
# the dequantization case, whether gguf-py's quantizer is the reference one.
TYPES = [
    ("q4_0", T.Q4_0, [0], 16, True),
    ("q4_1", T.Q4_1, [0, 2], 16, True),
    ("q5_0", T.Q5_0, [0], 16, True),
    ("q5_1", T.Q5_1, [0, 2], 16, True),
    ("q8_0", T.Q8_0, [0], 16, True),
    ("q2_K", T.Q2_K, [80, 82], 8, False),
    ("q3_K", T.Q3_K, [108], 8, False),
    ("q4_K", T.Q4_K, [0, 2], 8, False),
    ("q5_K", T.Q5_K, [0, 2], 8, False),
    ("q6_K", T.Q6_K, [208], 8, False),
]


def random_scale(rng: np.random.Generator, block: int, field: int) -> np.float16:
    """A finite f16 of modest magnitude. Block 0 gets a positive normal value,
    the last block an f16 subnormal, the one before it zero; the others a
    random sign and a magnitude between 2^-12 and 2^2."""
    if block == 0:
        v = 2.0 ** rng.uniform(-8, 0)
    elif block == -1:
        v = -(2.0 ** -20) * (1 + field)  # subnormal in f16 (below 2^-14)
    elif block == -2:
        v = 0.0
    else:
        v = rng.choice([-1.0, 1.0]) * 2.0 ** rng.uniform(-12, 2)
    h = np.float16(v)
    assert np.isfinite(h)
    return h


def random_blocks(rng, qtype, scale_offsets, n_blocks) -> np.ndarray:
    block_len, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for b in range(n_blocks):
        which = b
        if b == n_blocks - 1:
            which = -1
        elif b == n_blocks - 2:
            which = -2
        for k, off in enumerate(scale_offsets):
            h = random_scale(rng, which, k)
            blocks[b, off:off + 2] = np.frombuffer(h.tobytes(), dtype=np.uint8)
    return blocks


def legacy_quant_input(rng, name: str) -> np.ndarray:
    """16 blocks of 32 values, with the edge cases of the reference quantizers."""
    blocks = []
    # Ten blocks of normal data at scales from 1e-3 to 10.
    for _ in range(10):
        blocks.append(rng.standard_normal(32) * 10.0 ** rng.uniform(-3, 1))
    # Uniform data with an offset (exercises the min of q4_1 / q5_1).
    blocks.append(rng.uniform(0.25, 3.0, 32))
    # All zeros: d = 0, id = 0.
    blocks.append(np.zeros(32))
    # A constant block: max == min, so d = 0 for q4_1 / q5_1.
    blocks.append(np.full(32, -0.7))
    # +a and -a both present: the first of equal |x| decides the sign of d.
    b = rng.uniform(-1, 1, 32)
    b[5], b[20] = -1.5, 1.5
    blocks.append(b)
    # Tiny values: d is an f16 subnormal, and the f32 d used for rounding
    # differs from the stored one.
    blocks.append(rng.standard_normal(32) * 1e-6)
    # Exact rounding ties (x * id lands on k + 0.5), which tell truncation
    # `(int)(v + 0.5)` from round-to-nearest-even and from roundf.
    m = rng.integers(0, 15, 32).astype(np.float64)
    if name == "q4_0":      # d = 1/8, id = 8; x*id + 8.5 lands on integers
        b = (m - 8 + 0.5) / 8; b[0] = -1.0
    elif name == "q4_1":    # min 0, max 15/16: d = 1/16
        b = (m + 0.5) / 16; b[0], b[1] = 0.0, 15 / 16
    elif name == "q5_0":    # d = 1/16
        b = (2 * m - 16 + 0.5) / 16; b[0] = -1.0
    elif name == "q5_1":    # min 0, max 31/32: d = 1/32
        b = (2 * m + 0.5) / 32; b[0], b[1] = 0.0, 31 / 32
    elif name == "q8_0":    # amax = 127/128: d = 1/128, id = 128
        b = (8 * m - 60 + 0.5) / 128; b[0] = 127 / 128
    else:
        raise ValueError(name)
    blocks.append(b)
    x = np.concatenate(blocks).astype(np.float32)
    assert x.size == 16 * 32
    return x


def float_fixture(rng, name: str, qtype) -> bytes:
    n = 512
    if name == "f16":
        bits = rng.integers(0, 1 << 16, n, dtype=np.uint16)
        specials = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x3C00]
    else:
        bits = rng.integers(0, 1 << 16, n, dtype=np.uint16)
        specials = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x7F7F, 0x7F80, 0xFF80, 0x3F80]
    bits[: len(specials)] = specials
    raw = bits.view(np.uint8)
    values = dequantize(raw, qtype).astype(np.float32)

    # Quantization input: normal data, values near the rounding boundaries,
    # subnormals of the target, overflow, infinities, signed zeros. (No NaN:
    # numpy keeps a NaN's payload when narrowing to f16, ggml and `half`
    # return a quiet NaN; both are NaN, but the bits differ.)
    x = rng.standard_normal(n).astype(np.float32) * np.float32(10.0) ** rng.uniform(-6, 4, n).astype(np.float32)
    u = x.view(np.uint32)
    # Ties and near-ties: set the bits below the target mantissa to exactly half.
    cut = 13 if name == "f16" else 16
    half_ulp = np.uint32(1 << (cut - 1))
    u[0:64] = (u[0:64] & ~np.uint32((1 << cut) - 1)) | half_ulp
    u[64:96] = (u[64:96] & ~np.uint32((1 << cut) - 1)) | (half_ulp - np.uint32(1))
    u[96:128] = (u[96:128] & ~np.uint32((1 << cut) - 1)) | (half_ulp + np.uint32(1))
    x = u.view(np.float32)
    extra = [0.0, -0.0, np.inf, -np.inf, 65504.0, 65520.0, 65519.99, 1e-8, -3e-7, 6.0e-8, 2.9e-8, 3.0e38]
    x[128:128 + len(extra)] = np.array(extra, dtype=np.float32)
    if name == "bf16":
        x[200] = np.float32(np.nan)  # gguf-py's BF16 quieting is ggml's
    with np.errstate(over="ignore"):  # 65520 and 3e38 overflow f16 to inf, on purpose
        q = quantize(x, qtype)
    qbytes = np.ascontiguousarray(q).view(np.uint8).tobytes()
    assert len(qbytes) == 2 * n
    return header(qtype, n, n) + raw.tobytes() + values.tobytes() + x.tobytes() + qbytes


def header(qtype, n_deq: int, n_quant: int) -> bytes:
    return b"RFQF" + struct.pack("<IIII", FORMAT_VERSION, int(qtype), n_deq, n_quant)


def main() -> int:
    if sys.byteorder != "little":
        raise SystemExit("run this on a little-endian machine")
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, qtype, scale_offsets, n_blocks, has_ref_quantizer in TYPES:
        block_len, type_size = GGML_QUANT_SIZES[qtype]
        blocks = random_blocks(rng, qtype, scale_offsets, n_blocks)
        values = dequantize(blocks.reshape(-1), qtype).astype(np.float32, copy=False)
        assert values.size == n_blocks * block_len
        data = blocks.tobytes() + values.tobytes()
        n_quant = 0
        if has_ref_quantizer:
            x = legacy_quant_input(rng, name)
            q = quantize(x, qtype)
            assert q.dtype == np.uint8 and q.size == x.size // block_len * type_size
            n_quant = x.size
            data += x.tobytes() + q.tobytes()
        blob = header(qtype, values.size, n_quant) + data
        (OUT / f"{name}.bin").write_bytes(blob)
        total += len(blob)
        print(f"{name}: {len(blob)} bytes")
    for name, qtype in [("f16", T.F16), ("bf16", T.BF16)]:
        blob = float_fixture(rng, name, qtype)
        (OUT / f"{name}.bin").write_bytes(blob)
        total += len(blob)
        print(f"{name}: {len(blob)} bytes")
    print(f"total {total} bytes; gguf {metadata.version('gguf')}, numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
