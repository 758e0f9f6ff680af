import gguf, numpy as np, json, sys
r = gguf.GGUFReader('/root/.cache/rocmforge/models/SmolLM2-135M-Instruct.Q4_1.gguf')
W = {}
for t in r.tensors:
    a = gguf.quants.dequantize(t.data, t.tensor_type)
    W[t.name] = np.asarray(a, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)] if a.ndim==1 else a.shape)
print({k:(v.shape) for k,v in list(W.items())[:12]}, len(W), file=sys.stderr)
print(set(str(t.tensor_type) for t in r.tensors), file=sys.stderr)
H, KV, D, L, eps, theta = 9, 3, 64, 30, 1e-5, 100000.0
def rms(x, w): return x / np.sqrt((x.astype(np.float64)**2).mean(-1, keepdims=True) + eps).astype(np.float32) * w
def rope(x, pos):  # x: [T, h, D], llama.cpp NORM mode: adjacent pairs
    inv = theta ** (-np.arange(0, D, 2, dtype=np.float64) / D)
    ang = pos[:, None].astype(np.float64) * inv[None]
    c, s = np.cos(ang)[:, None, :].astype(np.float32), np.sin(ang)[:, None, :].astype(np.float32)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out
def forward(tokens):
    T = len(tokens); pos = np.arange(T)
    x = W['token_embd.weight'][tokens]
    for l in range(L):
        p = f'blk.{l}.'
        h = rms(x, W[p+'attn_norm.weight'])
        q = (h @ W[p+'attn_q.weight'].T).reshape(T, H, D)
        k = (h @ W[p+'attn_k.weight'].T).reshape(T, KV, D)
        v = (h @ W[p+'attn_v.weight'].T).reshape(T, KV, D)
        q, k = rope(q, pos), rope(k, pos)
        k = np.repeat(k, H // KV, axis=1); v = np.repeat(v, H // KV, axis=1)
        att = np.einsum('thd,shd->hts', q, k) / np.sqrt(D)
        att = att + np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)[None]
        att = np.exp(att - att.max(-1, keepdims=True)); att /= att.sum(-1, keepdims=True)
        o = np.einsum('hts,shd->thd', att, v).reshape(T, H * D)
        x = x + o @ W[p+'attn_output.weight'].T
        h = rms(x, W[p+'ffn_norm.weight'])
        g = h @ W[p+'ffn_gate.weight'].T; u = h @ W[p+'ffn_up.weight'].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p+'ffn_down.weight'].T
    x = rms(x, W['output_norm.weight'])
    out = W.get('output.weight', W['token_embd.weight'])
    return x @ out.T
d = json.load(open('/work/main/tests/fixtures/llamacpp/smollm2-135m-instruct-q4_1.json'))
worst = 0
for c in d['cases']:
    toks = c['teacher_forced']['tokens']
    lg = forward(np.array(toks))
    diffs = []; agree = 0
    for p, top in enumerate(c['teacher_forced']['top']):
        for i, v in top:
            diffs.append(abs(lg[p, i] - v))
        agree += int(np.argmax(lg[p]) == top[0][0])
    diffs = np.array(diffs)
    print(f"{c['name']}: positions {len(toks)} max|diff| {diffs.max():.3f} mean {diffs.mean():.3f} top1 agree {agree}/{len(toks)}", flush=True)
