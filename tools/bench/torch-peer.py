"""PyTorch peer for `npm run bench`: what a Python user would run instead.

A plain-torch LlamaForSequenceClassification forward (RMSNorm, RoPE, grouped
query attention with a causal mask, SiLU-gated MLP, final norm, the linear
`score` head read at each sequence's last token) with the weights read from
the same GGUF file llama-reward scores (a small numpy GGUF reader: F32, F16
and BF16 tensors), in bf16 or fp32, on the same token lists and thread count.
Like transformers, it runs the whole network on every token.

Run by tools/bench/run-bench.ts with one JSON argument (the job, see
TorchJob in torch-peer.ts); writes its result as JSON to job.resultPath.
Needs python3 with torch and numpy (Debian: `apt-get install python3-torch`;
for fast fp32 also `libopenblas0-pthread`, else torch uses the reference BLAS).
"""

import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30


class GgufFile:
    """The header of a GGUF v2/v3 file and numpy views of its F32/F16/BF16 tensors."""

    _scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._buf = f.read(64 << 20)  # the header (tokenizer included) is far smaller
        self._at = 0
        magic, version = self._unpack("<4sI")
        if magic != b"GGUF" or version not in (2, 3):
            raise ValueError(f"{path} is not a GGUF v2/v3 file")
        n_tensors, n_kv = self._unpack("<QQ")
        self.metadata = {}
        for _ in range(n_kv):
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.metadata[key] = self._value(vtype)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string()
            (n_dims,) = self._unpack("<I")
            dims = self._unpack("<" + "Q" * n_dims)
            ttype, offset = self._unpack("<IQ")
            self.tensors[name] = (tuple(dims), ttype, offset)
        align = int(self.metadata.get("general.alignment", 32))
        self.data_offset = (self._at + align - 1) // align * align
        self._buf = None

    def _unpack(self, fmt):
        values = struct.unpack_from(fmt, self._buf, self._at)
        self._at += struct.calcsize(fmt)
        return values

    def _string(self):
        (n,) = self._unpack("<Q")
        s = self._buf[self._at:self._at + n].decode("utf-8", errors="replace")
        self._at += n
        return s

    def _value(self, vtype):
        if vtype == 8:
            return self._string()
        if vtype == 9:
            etype, n = self._unpack("<IQ")
            return [self._value(etype) for _ in range(n)]
        return self._unpack(self._scalar[vtype])[0]

    def _read(self, offset, dtype, count, shape):
        """Reads `count` elements into a fresh torch tensor (read(), not mmap: only the copy counts in RSS)."""
        out = torch.empty(count, dtype=dtype)
        view = memoryview(out.numpy()).cast("B")
        with open(self.path, "rb", buffering=0) as f:
            f.seek(offset)
            done = 0
            while done < len(view):
                n = f.readinto(view[done:])
                if not n:
                    raise ValueError(f"{self.path} ends inside a tensor")
                done += n
        return out.view(shape)

    def tensor(self, name, dtype):
        """The tensor as a torch tensor of `dtype`, shaped like torch (ggml's dims reversed)."""
        dims, ttype, offset = self.tensors[name]
        count = int(np.prod(dims))
        start = self.data_offset + offset
        shape = tuple(reversed(dims))
        if ttype == GGML_F32:
            return self._read(start, torch.float32, count, shape).to(dtype)
        if ttype == GGML_F16:
            return self._read(start, torch.float16, count, shape).to(dtype)
        if ttype == GGML_BF16:
            bits = self._read(start, torch.int16, count, shape)
            if dtype == torch.bfloat16:
                return bits.view(torch.bfloat16)
            return (bits.to(torch.int32) << 16).view(torch.float32).to(dtype)
        raise ValueError(f"tensor {name} has ggml type {ttype}; the torch peer reads F32, F16 and BF16 files")


class LlamaReward:
    """LlamaForSequenceClassification's forward on weights in llama.cpp's layout (Q/K rows in RoPE pair order)."""

    def __init__(self, gguf, dtype):
        md = gguf.metadata
        self.dtype = dtype
        self.n_layer = int(md["llama.block_count"])
        self.n_head = int(md["llama.attention.head_count"])
        self.n_head_kv = int(md["llama.attention.head_count_kv"])
        self.n_embd = int(md["llama.embedding_length"])
        self.head_dim = self.n_embd // self.n_head
        self.eps = float(md["llama.attention.layer_norm_rms_epsilon"])
        self.rope_base = float(md.get("llama.rope.freq_base", 10000.0))
        if "rope_freqs.weight" in gguf.tensors:
            raise ValueError("rope_freqs (Llama-3.1 RoPE scaling) is not implemented in the torch peer")
        t = gguf.tensor
        self.embd = t("token_embd.weight", dtype)
        self.layers = []
        for i in range(self.n_layer):
            p = f"blk.{i}."
            self.layers.append({
                "attn_norm": t(p + "attn_norm.weight", torch.float32),
                "wq": t(p + "attn_q.weight", dtype), "wk": t(p + "attn_k.weight", dtype),
                "wv": t(p + "attn_v.weight", dtype), "wo": t(p + "attn_output.weight", dtype),
                "ffn_norm": t(p + "ffn_norm.weight", torch.float32),
                "gate": t(p + "ffn_gate.weight", dtype), "up": t(p + "ffn_up.weight", dtype),
                "down": t(p + "ffn_down.weight", dtype),
            })
        self.out_norm = t("output_norm.weight", torch.float32)
        self.score = t("cls.output.weight", dtype)  # [n_labels, n_embd], as transformers' score.weight
        self.score_bias = t("cls.output.bias", dtype) if "cls.output.bias" in gguf.tensors else None
        # RoPE in llama.cpp's "normal" mode: rotate adjacent pairs (the converter permuted Q/K rows for it).
        self.inv_freq = 1.0 / (self.rope_base ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))

    def rms_norm(self, x, weight):
        # transformers' LlamaRMSNorm: in fp32, then back to the activation dtype
        xf = x.to(torch.float32)
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (weight * xf).to(self.dtype)

    def rope(self, x, cos, sin):
        # x: [batch, heads, tokens, head_dim]; pairs (2i, 2i+1)
        x0 = x[..., 0::2].to(torch.float32)
        x1 = x[..., 1::2].to(torch.float32)
        out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
        return out.flatten(-2).to(self.dtype)

    @torch.inference_mode()
    def forward(self, tokens, lengths):
        """Rewards (first label) of a right-padded batch: tokens [batch, n], lengths [batch]."""
        b, n = tokens.shape
        x = self.embd[tokens]
        pos = torch.arange(n, dtype=torch.float32)
        angles = pos[:, None] * self.inv_freq[None, :]
        cos, sin = angles.cos(), angles.sin()
        mask = torch.full((n, n), float("-inf")).triu(1)
        if b > 1:
            # padding keys never attended to (padding sits after every real token, so causality already hides it from them)
            mask = mask[None, None, :, :].expand(b, 1, n, n).clone()
            for i, length in enumerate(lengths):
                mask[i, :, :, length:] = float("-inf")
        mask = mask.to(self.dtype)
        group = self.n_head // self.n_head_kv
        scale = 1.0 / math.sqrt(self.head_dim)
        for layer in self.layers:
            h = self.rms_norm(x, layer["attn_norm"])
            q = F.linear(h, layer["wq"]).view(b, n, self.n_head, self.head_dim).transpose(1, 2)
            k = F.linear(h, layer["wk"]).view(b, n, self.n_head_kv, self.head_dim).transpose(1, 2)
            v = F.linear(h, layer["wv"]).view(b, n, self.n_head_kv, self.head_dim).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) * scale + mask
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(self.dtype)
            attn = torch.matmul(probs, v).transpose(1, 2).reshape(b, n, self.n_embd)
            x = x + F.linear(attn, layer["wo"])
            h = self.rms_norm(x, layer["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(h, layer["gate"])) * F.linear(h, layer["up"]), layer["down"])
        x = self.rms_norm(x, self.out_norm)
        logits = F.linear(x, self.score, self.score_bias)  # every token, as transformers computes it
        last = torch.as_tensor(lengths) - 1
        return logits[torch.arange(b), last, 0].to(torch.float32).tolist()


def batches(lists, indices, max_batch, max_tokens):
    """Groups the conversations by length (sorted) into padded batches of at most max_batch and max_tokens."""
    order = sorted(indices, key=lambda i: len(lists[i]))
    group = []
    for i in order:
        longest = max([len(lists[j]) for j in group] + [len(lists[i])])
        if group and (len(group) >= max_batch or longest * (len(group) + 1) > max_tokens):
            yield group
            group = []
        group.append(i)
    if group:
        yield group


def score(model, lists, indices, max_batch, max_tokens):
    rewards = {}
    for group in batches(lists, indices, max_batch, max_tokens):
        lengths = [len(lists[i]) for i in group]
        n = max(lengths)
        tokens = torch.zeros((len(group), n), dtype=torch.long)
        for row, i in enumerate(group):
            tokens[row, :lengths[row]] = torch.tensor(lists[i], dtype=torch.long)
        for i, r in zip(group, model.forward(tokens, lengths)):
            rewards[i] = r
    return [rewards[i] for i in indices]


def cpu_ticks():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]
    own = os.times()
    return busy, (own.user + own.system) * os.sysconf("SC_CLK_TCK")


def main():
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job["threads"]))
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[job["dtype"]]
    workload = json.load(open(job["tokensPath"]))
    lists = workload["conversations"]
    t0 = time.perf_counter()
    model = LlamaReward(GgufFile(job["model"]), dtype)
    load_seconds = time.perf_counter() - t0
    max_batch, max_tokens = int(job.get("maxBatch", 8)), int(job.get("maxBatchTokens", 4096))
    sets = {"short": workload["shortIndices"], "long": workload["longIndices"]}
    score(model, lists, sets["short"][:1], 1, max_tokens)  # warm-up
    busy0, own0 = cpu_ticks()
    wall0 = time.perf_counter()
    result = {"torch": torch.__version__, "dtype": job["dtype"], "threads": torch.get_num_threads(),
              "blas": job.get("blas", ""), "loadSeconds": load_seconds, "maxBatch": max_batch}
    rewards = {}
    for name, indices in sets.items():
        # as for llama-reward: the short set twice, the faster counts; once each for rewards only (the fp32 arbiter)
        runs = 2 if name == "short" and not job.get("once", False) else 1
        best = None
        for _ in range(runs):
            t = time.perf_counter()
            c = os.times()
            values = score(model, lists, indices, max_batch, max_tokens)
            s = time.perf_counter() - t
            cpu = (os.times().user - c.user) + (os.times().system - c.system)
            if best is None or s < best[0]:
                best = (s, cpu)
            sys.stderr.write(f"torch {job['dtype']}: {name} {len(indices)} conversations in {s:.1f} s ({cpu:.1f} CPU-s)\n")
        tokens = sum(len(lists[i]) for i in indices)
        result[name] = {"tokens": tokens, "seconds": best[0], "tokensPerSecond": tokens / best[0], "cpuSeconds": best[1],
                        "conversations": len(indices)}
        rewards.update(zip(indices, values))
    busy1, own1 = cpu_ticks()
    wall = time.perf_counter() - wall0
    total = wall * os.sysconf("SC_CLK_TCK") * os.cpu_count()
    result["otherCpuShare"] = max(0.0, ((busy1 - busy0) - (own1 - own0)) / total) if total > 0 else 0.0
    result["indices"] = sorted(rewards)
    result["rewards"] = [rewards[i] for i in result["indices"]]
    result["maxRssBytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open(job["resultPath"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
