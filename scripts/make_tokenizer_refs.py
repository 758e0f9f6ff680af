#!/usr/bin/env python3
"""Reference token ids from llama.cpp's `llama-tokenize` for the tokenizer tests.

    python3 scripts/make_tokenizer_refs.py --llama-tokenize /root/llama.cpp-build/bin/llama-tokenize

For every vocabulary in tests/fixtures/vocab/ and every string of
tests/fixtures/tokenizer/corpus.json, runs

    llama-tokenize -m VOCAB.gguf -f STRING_FILE --no-escape --ids --log-disable [--no-parse-special]

(the string is written verbatim to a file; `--no-escape` keeps its bytes)
and writes tests/fixtures/tokenizer/VOCAB.ids.json. llama-tokenize passes
the vocabulary's `add_bos` as `add_special`, recorded as "add_special".
The `--no-parse-special` run is made only for strings that contain the text
of a control or unknown token, or a '<' or '['; elsewhere parse_special
cannot change the result and "no_parse_special" is null.
See tests/fixtures/tokenizer/README.md.
"""
import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vocab_fixtures import read_metadata  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABS = ["smollm2", "qwen2", "gemma3"]


def run(tool, vocab, text, parse_special, tmpdir, idx):
    path = os.path.join(tmpdir, f"{idx}-{int(parse_special)}.txt")
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
    cmd = [tool, "-m", vocab, "-f", path, "--no-escape", "--ids", "--log-disable"]
    if not parse_special:
        cmd.append("--no-parse-special")
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    line = [l for l in out.splitlines() if l.startswith("[")][-1]
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-tokenize", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append", help="vocab name(s) to redo")
    args = ap.parse_args()

    corpus = json.load(open(os.path.join(ROOT, "tests/fixtures/tokenizer/corpus.json"), encoding="utf-8"))
    for name in args.only or VOCABS:
        vocab = os.path.join(ROOT, "tests/fixtures/vocab", f"{name}.gguf")
        _, _, kv = read_metadata(vocab)
        tokens = kv["tokenizer.ggml.tokens"][1][1]
        types = kv.get("tokenizer.ggml.token_type", (None, (None, [1] * len(tokens))))[1][1]
        special = [t for t, ty in zip(tokens, types) if ty in (2, 3)]
        add_bos = kv.get("tokenizer.ggml.add_bos_token", (None, kv["tokenizer.ggml.model"][1] == "llama"))[1]

        def needs_plain(s):
            return "<" in s or "[" in s or any(t in s for t in special)

        with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(args.jobs) as pool:
            parsed = [pool.submit(run, args.llama_tokenize, vocab, s, True, tmp, i) for i, s in enumerate(corpus)]
            plain = [pool.submit(run, args.llama_tokenize, vocab, s, False, tmp, i) if needs_plain(s) else None
                     for i, s in enumerate(corpus)]
            cases = [{"parse_special": p.result(), "no_parse_special": q.result() if q else None}
                     for p, q in zip(parsed, plain)]
        sha = hashlib.sha256(open(vocab, "rb").read()).hexdigest()
        doc = {
            "vocab": f"tests/fixtures/vocab/{name}.gguf",
            "vocab_sha256": sha,
            "generator": "llama-tokenize (llama.cpp vendored in llama-cpp-python 0.3.36 sdist)",
            "command": f"llama-tokenize -m tests/fixtures/vocab/{name}.gguf -f STRING_FILE --no-escape --ids --log-disable [--no-parse-special]",
            "add_special": bool(add_bos),
            "cases": cases,
        }
        out = os.path.join(ROOT, "tests/fixtures/tokenizer", f"{name}.ids.json")
        with open(out, "w", encoding="utf-8") as f:
            f.write("{\n")
            for k in ["vocab", "vocab_sha256", "generator", "command", "add_special"]:
                f.write(f" {json.dumps(k)}: {json.dumps(doc[k])},\n")
            f.write(' "cases": [\n')
            f.write(",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in cases))
            f.write("\n ]\n}\n")
        print(f"{name}: {len(cases)} strings, {sum(c['no_parse_special'] is not None for c in cases)} also without parse_special -> {out}")


if __name__ == "__main__":
    main()
