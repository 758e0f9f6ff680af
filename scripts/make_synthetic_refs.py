#!/usr/bin/env python3
"""Reference logits from llama.cpp for the synthetic qwen2 model.

Made with the llama-cpp-python 0.3.36 venv of tests/fixtures/llamacpp/README.md:
    /root/llamacpp-venv/bin/python scripts/make_synthetic_refs.py
The model file itself was written by
    rocmforge synth --shape qwen2-tiny --type f32 --seed 7 --out tests/fixtures/synthetic/qwen2-tiny-f32.gguf
(F32 weights, so llama.cpp's matmuls are plain f32: no 8-bit activations.)
"""
import json
import hashlib
import llama_cpp

MODEL = "tests/fixtures/synthetic/qwen2-tiny-f32.gguf"
TOKENS = [1, 17, 200, 45, 383, 99, 5, 260, 301, 77, 12, 150]

llm = llama_cpp.Llama(model_path=MODEL, n_ctx=512, n_threads=2, n_batch=512, logits_all=True, verbose=False, seed=0)
llm.eval(TOKENS)
n_vocab = llm.n_vocab()
logits = [[round(float(x), 5) for x in llm.scores[p][:n_vocab]] for p in range(len(TOKENS))]
out = {
    "model": MODEL,
    "model_sha256": hashlib.sha256(open(MODEL, "rb").read()).hexdigest(),
    "llama_cpp_python": llama_cpp.__version__,
    "command": "/root/llamacpp-venv/bin/python scripts/make_synthetic_refs.py",
    "date": "2026-11-30",
    "kv_cache_type": "f16",
    "tokens": TOKENS,
    "logits": logits,
}
json.dump(out, open("tests/fixtures/synthetic/qwen2-tiny-f32.llamacpp.json", "w"))
print("wrote", len(logits), "positions x", n_vocab)
