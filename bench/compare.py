#!/usr/bin/env python3
"""Merge `rocmforge bench --output json` and `llama-bench -o json` results
into one side-by-side table (Markdown) and one JSON file.

Standard library only: it runs on the GPU machine, which has no internet.

    bench/compare.py --date 2026-12-01 --gpu "NVIDIA H200" --commit abc123 \\
        --command "bench/compare-llamacpp.sh ..." --bandwidth 4.24e12 \\
        --md out.md --json out.json \\
        --pair "llama2-7b q4_k_m" rf.json llama.json [--pair ...]

Each --pair names a model and its two result files (either may be missing
or unreadable: that side is then null). Tests are matched by
(n_prompt, n_gen, depth): a prompt test has n_gen 0, a generation test
n_prompt 0 (llama-bench's `n_depth` is rocmforge's `depth`).

The JSON written is a contract (other tools read it):
    {"date", "gpu", "commit", "command", "rows": [
        {"model", "test", "rocmforge", "llamacpp", "ratio", "roofline_pct"}]}
tokens/s; ratio = rocmforge / llamacpp; roofline_pct = 100 * rocmforge /
(bandwidth / weight_bytes_per_token) for generation rows, else null.
"""

import argparse
import json
import sys


def load_json(path):
    """The parsed file, or None (with a warning) when absent or not JSON."""
    if not path:
        return None
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        print(f"warning: {path}: {e.strerror}", file=sys.stderr)
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    # Tolerate log lines around the JSON (a tool printing to stdout).
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    end = max(text.rfind("}"), text.rfind("]"))
    if start >= 0 and end > start:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    print(f"warning: {path}: not JSON", file=sys.stderr)
    return None


def test_key(n_prompt, n_gen, depth):
    """A prompt test is keyed by its prompt length, a generation test by
    its length; either at a depth."""
    n_prompt, n_gen, depth = int(n_prompt or 0), int(n_gen or 0), int(depth or 0)
    if n_gen == 0:
        return (n_prompt, 0, depth)
    return (0, n_gen, depth)


def test_name(key):
    n_prompt, n_gen, depth = key
    name = f"pp{n_prompt}" if n_gen == 0 else f"tg{n_gen}"
    return name + (f"@d{depth}" if depth else "")


def rocmforge_tests(doc):
    """{key: (name, tokens/s, sd)} and the model facts of one rocmforge run."""
    if not isinstance(doc, dict):
        return {}, {}
    tests = {}
    for r in doc.get("results") or []:
        key = test_key(r.get("n_prompt"), r.get("n_gen"), r.get("depth"))
        tests[key] = (r.get("test") or test_name(key), r.get("tokens_per_s"), r.get("tokens_per_s_sd"))
    return tests, doc


def llamacpp_tests(doc):
    """{key: (name, tokens/s, sd)} of one llama-bench run (a JSON array)."""
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        return {}
    tests = {}
    for r in doc:
        if not isinstance(r, dict):
            continue
        key = test_key(r.get("n_prompt"), r.get("n_gen"), r.get("n_depth"))
        tests[key] = (test_name(key), r.get("avg_ts"), r.get("stddev_ts"))
    return tests


def gpu_of(docs):
    """The device name from the first run that reports one."""
    for kind, doc in docs:
        if kind == "rocmforge" and isinstance(doc, dict) and doc.get("device"):
            return doc["device"]
        if kind == "llamacpp" and isinstance(doc, list):
            for r in doc:
                if isinstance(r, dict) and r.get("gpu_info"):
                    return r["gpu_info"]
    return None


def num(x):
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def rnd(x, digits):
    return None if x is None else round(x, digits)


def build_rows(pairs, bandwidth):
    rows, extra, docs = [], [], []
    for model, rf_path, lc_path in pairs:
        rf_doc, lc_doc = load_json(rf_path), load_json(lc_path)
        docs += [("rocmforge", rf_doc), ("llamacpp", lc_doc)]
        rf, facts = rocmforge_tests(rf_doc)
        lc = llamacpp_tests(lc_doc)
        wbpt = num(facts.get("weight_bytes_per_token")) if facts else None
        # rocmforge's order first, then tests only llama.cpp ran.
        keys = list(rf) + [k for k in lc if k not in rf]
        for key in keys:
            name = (rf.get(key) or lc.get(key))[0]
            ours = num(rf[key][1]) if key in rf else None
            theirs = num(lc[key][1]) if key in lc else None
            ratio = ours / theirs if ours is not None and theirs else None
            roofline = None
            if key[1] > 0 and ours is not None and bandwidth and wbpt:
                roofline = 100.0 * ours / (bandwidth / wbpt)
            rows.append(
                {
                    "model": model,
                    "test": name,
                    "rocmforge": rnd(ours, 2),
                    "llamacpp": rnd(theirs, 2),
                    "ratio": rnd(ratio, 4),
                    "roofline_pct": rnd(roofline, 2),
                }
            )
            extra.append(
                {
                    "rocmforge_sd": num(rf[key][2]) if key in rf else None,
                    "llamacpp_sd": num(lc[key][2]) if key in lc else None,
                }
            )
    return rows, extra, docs


def fmt_ts(v, sd):
    if v is None:
        return "—"
    s = f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    if sd:
        s += f" ± {sd:,.1f}" if sd < 1000 else f" ± {sd:,.0f}"
    return s


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(meta, rows, extra, bandwidth):
    bw = f"{bandwidth / 1e12:.2f} TB/s (device copy, read+write)" if bandwidth else "not measured"
    lines = [
        f"# rocmforge vs llama.cpp: {meta['gpu']}",
        "",
        f"- date: {meta['date']}",
        f"- {'device' if meta['gpu'].startswith('CPU') else 'GPU'}: {meta['gpu']}",
        f"- commit: `{meta['commit']}`",
        f"- command: `{meta['command']}`",
        f"- bandwidth: {bw}",
    ]
    lines += [f"- {note}" for note in meta.get("notes") or []]
    lines += [
        "",
        "Tokens/s, mean ± sd over the repetitions. ratio = rocmforge / llama.cpp;"
        " roofline % = rocmforge decode speed as a share of bandwidth / weight bytes per token.",
        "",
        "| model | test | rocmforge t/s | llama.cpp t/s | ratio | roofline % |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r, x in zip(rows, extra):
        lines.append(
            f"| {r['model']} | {r['test']} | {fmt_ts(r['rocmforge'], x['rocmforge_sd'])} "
            f"| {fmt_ts(r['llamacpp'], x['llamacpp_sd'])} | {fmt(r['ratio'], '.2f')} "
            f"| {fmt(r['roofline_pct'], '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--date", required=True)
    ap.add_argument("--gpu", help="device name (default: from the results)")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--bandwidth", type=float, help="device copy bandwidth, bytes/s (read+write)")
    ap.add_argument("--note", action="append", default=[], help="an extra header line (repeatable)")
    ap.add_argument("--md", required=True, help="Markdown output")
    ap.add_argument("--json", required=True, help="JSON output")
    ap.add_argument(
        "--pair",
        nargs=3,
        action="append",
        default=[],
        metavar=("MODEL", "ROCMFORGE_JSON", "LLAMACPP_JSON"),
    )
    a = ap.parse_args(argv)
    if not a.pair:
        ap.error("no --pair given")
    bandwidth = a.bandwidth if a.bandwidth and a.bandwidth > 0 else None
    rows, extra, docs = build_rows(a.pair, bandwidth)
    gpu = a.gpu or gpu_of(docs) or "unknown"
    doc = {"date": a.date, "gpu": gpu, "commit": a.commit, "command": a.command, "rows": rows}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    md = markdown(dict(doc, notes=a.note), rows, extra, bandwidth)
    with open(a.md, "w") as f:
        f.write(md)
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
