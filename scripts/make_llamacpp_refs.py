#!/usr/bin/env python3
"""Write llama.cpp reference tokens and logits for the end-to-end tests on a real model.

For every prompt in CASES below, with llama.cpp (through llama-cpp-python) on the CPU:

1. tokenize the prompt as `llama-cli` does: BOS per the model's `tokenizer.ggml.add_bos_token`
   (SmolLM2 says false, so no BOS), special tokens parsed;
2. greedy-decode up to MAX_NEW tokens, one token per decode call, stopping after (and including) an
   end-of-generation token (`<|im_end|>`, `<|endoftext|>`, or whatever llama.cpp calls EOG); each step
   records the top-5 (id, logit) pairs and the margin top1 - top2;
3. run ONE teacher-forced pass (a single `eval` call: one llama_decode, split into n_ubatch micro-batches
   by llama.cpp) over prompt + generated tokens, recording the top-5 (id, logit) at every position.
   Position i holds the logits that predict token i + 1.

Output: tests/fixtures/llamacpp/smollm2-135m-instruct-q4_1.json (logits rounded to 4 decimals).
Top-5 lists are sorted by logit descending, ties by token id ascending; the greedy pick is the first
entry (numpy argmax picks the lowest id among equal maxima, the same order).

Setup and invocation: see tests/fixtures/llamacpp/README.md. In short:

    python3 -m venv /root/llamacpp-venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF" \
        /root/llamacpp-venv/bin/python -m pip install --no-binary llama-cpp-python llama-cpp-python==0.3.36
    scripts/fetch-models.sh
    /root/llamacpp-venv/bin/python scripts/make_llamacpp_refs.py
"""
import argparse
import datetime
import hashlib
import json
import os
import shlex
import sys
import time

import numpy as np

import llama_cpp
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE_DIR = os.environ.get("ROCMFORGE_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "rocmforge"))
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_MODEL = os.path.join(CACHE_DIR, "models", MODEL_FILE)
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "llamacpp", "smollm2-135m-instruct-q4_1.json")

# The llama.cpp commit vendored by each llama-cpp-python release, from that sdist's CHANGELOG.md.
VENDORED_LLAMA_CPP = {"0.3.36": "ggml-org/llama.cpp@0c1e57098"}

N_CTX = 2048
N_THREADS = 2
N_BATCH = 2048  # the teacher-forced pass is one llama_decode call
N_UBATCH = 512  # llama.cpp's default micro-batch
MAX_NEW = 64
TOP_K = 5
DECIMALS = 4

# What the GGUF's tokenizer.chat_template renders for [system, user] with add_generation_prompt=True
# (checked against the template at run time).
CHAT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_PROMPT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    "<|im_start|>assistant\n"
)

LONG_TEXT = (
    "The old lighthouse stood at the end of a narrow spit of land, where the river met the sea and the "
    "water changed colour from brown to grey to a deep, restless green. For more than a hundred years a "
    "keeper had climbed its spiral stairs every evening to light the lamp, and every morning to put it out "
    "again. The last keeper was a quiet man named Thomas Hale, who kept a careful logbook in which he wrote "
    "down the weather, the ships that passed, and anything else that seemed worth remembering. He noted "
    "the day the swallows arrived in spring and the day they left in autumn. He noted storms that tore "
    "slates from the roof and calm nights when the sea was so still that the stars were reflected in it "
    "like a second sky. When the lighthouse was finally replaced by an automatic beacon, Thomas packed his "
    "few belongings into a wooden chest and moved to a small cottage in the village. He did not take the "
    "logbooks with him. He left them on a shelf in the lamp room, thinking that they belonged to the "
    "lighthouse and not to him. Many years later, a young historian from the city came to study the "
    "coast. She was looking for records of shipwrecks, but what she found in the lamp room was something "
    "quite different: forty-three volumes of patient, ordinary observations, written in a small and "
    "steady hand. She read them slowly, one after another, and began to understand that they told a story "
    "that no official record could tell. They described how the fishing boats had grown fewer each "
    "decade, how the winters had become milder, and how the village had changed as young people moved "
    "away to find work. When she finished the last volume, she walked down to the village to find the "
    "keeper, hoping to ask him about the things he had seen. The neighbours told her that he had died the "
    "previous winter, at the age of ninety-one. She stood for a long time outside his cottage, and then she "
    "went home and began to write. The book she wrote was about"
)

CASES = [
    # A bare question without chat formatting: this model answers <|im_end|> at once (a 1-token case).
    ("question_capital", "What is the capital of France?"),
    ("question_sky", "Explain why the sky is blue."),
    ("story_opening", "Once upon a time, in a small village by the sea, there lived"),
    ("code_python", 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'),
    ("list_fruits", "Here is a list of five fruits:\n1."),
    ("french", "La tour Eiffel est située à Paris. Elle a été construite en"),
    ("german", "Die Hauptstadt von Deutschland ist Berlin. Die Stadt hat"),
    ("numbers_fibonacci", "1, 1, 2, 3, 5, 8, 13, 21, 34,"),
    ("arithmetic", "Question: What is 12 + 7?\nAnswer:"),
    ("recipe_steps", "To make a cup of tea, follow these steps:\n\nStep 1:"),
    ("long_paragraph", LONG_TEXT),
    ("chat_capital", CHAT_PROMPT),
    # user only: the template inserts its default system message
    ("chat_haiku", None),
]
CHAT_HAIKU_MESSAGES = [{"role": "user", "content": "Write a haiku about the ocean."}]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render_chat(template, messages, bos, eos):
    """Render like transformers' apply_chat_template(tokenize=False, add_generation_prompt=True)."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos
    )


def top_k(logits, k=TOP_K):
    """Top-k token ids: logit descending, id ascending among ties."""
    kth = np.partition(logits, -k)[-k]
    cand = np.nonzero(logits >= kth)[0]
    return sorted(cand.tolist(), key=lambda i: (-float(logits[i]), i))[:k]


def pairs(logits, ids):
    return [[int(i), round(float(logits[i]), DECIMALS)] for i in ids]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    args = ap.parse_args()

    model_sha = sha256_file(args.model)
    if model_sha != MODEL_SHA256:
        sys.exit(f"{args.model}: sha256 {model_sha}, expected {MODEL_SHA256} (run scripts/fetch-models.sh)")

    llm = Llama(
        model_path=args.model,
        n_ctx=N_CTX,
        n_batch=N_BATCH,
        n_ubatch=N_UBATCH,
        n_threads=N_THREADS,
        n_threads_batch=N_THREADS,
        logits_all=True,
        seed=0,
        verbose=False,
    )
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llm.n_vocab()
    meta = llm.metadata
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    assert meta.get("tokenizer.ggml.add_bos_token") in ("false", "False", "0", None) and not add_bos, meta.get(
        "tokenizer.ggml.add_bos_token"
    )

    def piece(tok):
        return llm.detokenize([tok], special=True).decode("utf-8", errors="replace")

    # End-of-generation ids: what llama.cpp calls EOG, which must include <|im_end|> and <|endoftext|>.
    eog = {t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)}
    by_text = {piece(t): t for t in (0, 1, 2)}
    for name in ("<|im_end|>", "<|endoftext|>"):
        assert name in by_text and by_text[name] in eog, (name, by_text, eog)

    template = meta["tokenizer.chat_template"]
    bos_text = piece(llama_cpp.llama_vocab_bos(vocab))
    eos_text = piece(llama_cpp.llama_vocab_eos(vocab))
    rendered = render_chat(
        template,
        [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": "What is the capital of France?"}],
        bos_text,
        eos_text,
    )
    assert rendered == CHAT_PROMPT, repr(rendered)
    haiku_prompt = render_chat(template, CHAT_HAIKU_MESSAGES, bos_text, eos_text)

    cases = []
    t0 = time.time()
    for name, prompt in CASES:
        if prompt is None:
            prompt = haiku_prompt
        prompt_tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        assert len(prompt_tokens) + MAX_NEW <= N_CTX

        # Greedy decoding, one token per llama_decode.
        llm.reset()
        llm.eval(prompt_tokens)
        gen, g_top, g_margin = [], [], []
        for _step in range(MAX_NEW):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            ids = top_k(logits)
            tok = ids[0]
            assert tok == int(np.argmax(logits))
            g_top.append(pairs(logits, ids))
            g_margin.append(round(float(logits[ids[0]]) - float(logits[ids[1]]), DECIMALS))
            gen.append(tok)
            if tok in eog:
                break
            if len(gen) < MAX_NEW:
                llm.eval([tok])

        # One teacher-forced pass over prompt + generated tokens.
        all_tokens = prompt_tokens + gen
        llm.reset()
        llm.eval(all_tokens)
        assert llm.n_tokens == len(all_tokens)
        scores = np.array(llm.scores[: len(all_tokens)], dtype=np.float32)
        tf_top = [pairs(scores[p], top_k(scores[p])) for p in range(len(all_tokens))]

        # Consistency between the two paths (informational: near-ties may flip between batch shapes).
        n_p = len(prompt_tokens)
        flips = [
            j for j, tok in enumerate(gen) if tf_top[n_p - 1 + j][0][0] != tok
        ]
        max_diff = 0.0
        for j in range(len(gen)):
            a = dict((i, v) for i, v in g_top[j])
            b = dict((i, v) for i, v in tf_top[n_p - 1 + j])
            for i in set(a) & set(b):
                max_diff = max(max_diff, abs(a[i] - b[i]))

        text = llm.detokenize(gen, special=True).decode("utf-8", errors="replace")
        mi = int(np.argmin(g_margin))
        print(
            f"== {name}: prompt {n_p} tokens, generated {len(gen)}"
            f"{' (EOG)' if gen and gen[-1] in eog else ''}, min margin {g_margin[mi]:.4f} at step {mi}"
            f" (token {gen[mi]} {piece(gen[mi])!r}), greedy-vs-teacher-forced top1 flips {flips},"
            f" max |logit diff| on shared top-5 {max_diff:.4f}",
            flush=True,
        )
        print(f"   prompt: {prompt[-120:]!r}")
        print(f"   greedy: {text!r}", flush=True)

        cases.append(
            {
                "name": name,
                "prompt": prompt,
                "prompt_tokens": prompt_tokens,
                "greedy": {"tokens": gen, "text": text, "top": g_top, "margin": g_margin},
                "teacher_forced": {"tokens": all_tokens, "top": tf_top},
            }
        )
    elapsed = time.time() - t0

    out = {
        "model": os.path.basename(args.model),
        "model_sha256": model_sha,
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp": VENDORED_LLAMA_CPP.get(llama_cpp.__version__, "unknown"),
        "system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "command": shlex.join([sys.executable] + sys.argv),
        "date": args.date,
        "n_threads": N_THREADS,
        "n_ctx": N_CTX,
        "n_batch": N_BATCH,
        "n_ubatch": N_UBATCH,
        "flash_attn": False,
        "kv_cache_type": "f16",
        "add_bos": add_bos,
        "parse_special": True,
        "max_new_tokens": MAX_NEW,
        "eog_tokens": sorted(eog),
        "top_k": TOP_K,
        "logit_decimals": DECIMALS,
        "notes": (
            "greedy.top[j] are the logits after prompt + greedy.tokens[:j] (one llama_decode per token); "
            "greedy.margin[j] = top1 - top2 logit. teacher_forced.top[p] are the logits at position p of a "
            "single pass over teacher_forced.tokens (they predict token p + 1). Top-5 sorted by logit "
            "descending, ties by id ascending. llama.cpp quantizes activations to 8 bits in quantized "
            "matmuls (Q4_1 weights x Q8_1 activations), so these logits are accurate to about 0.5."
        ),
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    # Header fields one per line, then one case per line: small, and diffs stay readable per case.
    header = {k: v for k, v in out.items() if k != "cases"}
    lines = ["{"]
    for k, v in header.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append(' "cases": [')
    body = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
    lines.append(",\n".join(body))
    lines.append(" ]")
    lines.append("}")
    text_out = "\n".join(lines) + "\n"
    assert json.loads(text_out) == json.loads(json.dumps(out))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text_out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(cases)} cases, {elapsed:.1f}s)")


if __name__ == "__main__":
    main()
