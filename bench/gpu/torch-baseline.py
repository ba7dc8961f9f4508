#!/usr/bin/env python3
"""The FLUX.2 [klein] transformer step in plain PyTorch eager, as a baseline for FluxWeb's ONNX Runtime step.

Written from the forward pass in shared/spec/flux2-klein.md (BFL names: fused qkv, adaLN rows [shift; scale]),
with torch.nn.functional.scaled_dot_product_attention; no diffusers. It first checks itself against the tiny
oracle fixtures (tests/fixtures/flux2-tiny, computed by Black Forest Labs' own code), so the baseline computes
the same function, then times klein 4B steps in bf16 on the GPU (the same shapes FluxWeb's check times) with zero
weights, as FluxWeb's check has, and again with random ones: zeros cost a GEMM no fewer operations, but less power,
so a power-limited GPU may run them faster.

  python3 bench/gpu/torch-baseline.py --fixtures tests/fixtures/flux2-tiny [--sizes 512,1024,2048] [--out DIR]
  python3 bench/gpu/torch-baseline.py --dry-run --fixtures tests/fixtures/flux2-tiny    (no torch needed)

Prints one markdown table; with --out also writes torch-baseline.json there.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

# 2 · params · tokens for one 4B step at 1024² (4096 image + 512 text tokens): the figure FluxWeb's check uses too.
FLOP_4B_AT_1024 = 34.8e12

KLEIN_4B = dict(hidden=3072, heads=24, double=5, single=20, context=7680, axes=(32, 32, 32, 32), theta=2000.0, mlp_ratio=3.0)
FIXTURE_TINY = dict(hidden=64, heads=2, double=2, single=2, context=48, axes=(8, 8, 8, 8), theta=2000.0, mlp_ratio=3.0)


def read_safetensors_header(path):
    """(header dict, data offset) of a .safetensors file, without any library."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    return header, 8 + length


def load_safetensors(path, device):
    """Every tensor of a .safetensors file as a torch tensor (float32 for F32/BF16/F16 stays as stored)."""
    import torch

    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "I64": torch.int64}
    header, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        raw = f.read()
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        buffer = bytearray(raw[start + a:start + b])
        t = torch.frombuffer(buffer, dtype=dtypes[info["dtype"]]) if buffer else torch.empty(0, dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).to(device)
    return tensors


def parameter_shapes(c):
    """BFL names and shapes of a klein transformer of config c (the layout of flux-2-klein-*.safetensors)."""
    d, m, hd = c["hidden"], int(c["hidden"] * c["mlp_ratio"]), c["hidden"] // c["heads"]
    shapes = {
        "img_in.weight": (d, 128), "txt_in.weight": (d, c["context"]),
        "time_in.in_layer.weight": (d, 256), "time_in.out_layer.weight": (d, d),
        "double_stream_modulation_img.lin.weight": (6 * d, d), "double_stream_modulation_txt.lin.weight": (6 * d, d),
        "single_stream_modulation.lin.weight": (3 * d, d),
        "final_layer.adaLN_modulation.1.weight": (2 * d, d), "final_layer.linear.weight": (128, d),
    }
    for n in range(c["double"]):
        for s in ("img", "txt"):
            p = f"double_blocks.{n}.{s}_"
            shapes.update({p + "attn.qkv.weight": (3 * d, d), p + "attn.proj.weight": (d, d),
                           p + "attn.norm.query_norm.scale": (hd,), p + "attn.norm.key_norm.scale": (hd,),
                           p + "mlp.0.weight": (2 * m, d), p + "mlp.2.weight": (d, m)})
    for n in range(c["single"]):
        p = f"single_blocks.{n}."
        shapes.update({p + "linear1.weight": (3 * d + 2 * m, d), p + "linear2.weight": (d, d + m),
                       p + "norm.query_norm.scale": (hd,), p + "norm.key_norm.scale": (hd,)})
    return shapes


class Klein:
    """The forward pass. w: BFL-named weights (any float dtype); compute in `dtype`, norms and RoPE in float32."""

    def __init__(self, c, w, dtype):
        self.c, self.w, self.dtype = c, {k: v.to(dtype) if v.is_floating_point() else v for k, v in w.items()}, dtype

    def linear(self, x, name):
        import torch.nn.functional as F
        return F.linear(x, self.w[name])

    @staticmethod
    def layer_norm(x):
        import torch.nn.functional as F
        return F.layer_norm(x.float(), (x.shape[-1],), eps=1e-6).to(x.dtype)

    @staticmethod
    def rms_norm(x, scale):
        import torch
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6) * scale.float()).to(x.dtype)

    def rope(self, ids):
        """cos, sin [tokens, head_dim/2] from 4-axis ids: angle = id_axis · θ^(−2j/axis_dim), in float64 as the reference."""
        import torch
        parts = []
        for axis, dim in enumerate(self.c["axes"]):
            omega = 1.0 / (self.c["theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64, device=ids.device) / dim))
            parts.append(ids[:, axis].double()[:, None] * omega[None])
        angles = torch.cat(parts, dim=-1)
        return angles.cos().float(), angles.sin().float()

    @staticmethod
    def apply_rope(x, cos, sin):
        """Interleaved pairs (x0, x1) → (x0·cos − x1·sin, x0·sin + x1·cos), in float32. x: [B, H, S, D]."""
        xf = x.float().reshape(*x.shape[:-1], -1, 2)
        x0, x1 = xf[..., 0], xf[..., 1]
        out = (x0 * cos - x1 * sin, x0 * sin + x1 * cos)
        import torch
        return torch.stack(out, dim=-1).reshape(x.shape).to(x.dtype)

    def attention(self, q, k, v, cos, sin):
        import torch.nn.functional as F
        q, k = self.apply_rope(q, cos, sin), self.apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v)
        b, h, s, d = out.shape
        return out.transpose(1, 2).reshape(b, s, h * d)

    def heads(self, x, norm_scale=None):
        b, s, _ = x.shape
        h = self.c["heads"]
        x = x.reshape(b, s, h, -1)
        if norm_scale is not None:
            x = self.rms_norm(x, norm_scale)
        return x.transpose(1, 2)

    def forward(self, x, ctx, sigma, img_ids, txt_ids):
        import torch
        import torch.nn.functional as F
        c, w, d = self.c, self.w, self.c["hidden"]
        m = int(d * c["mlp_ratio"])
        half = 128
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
        args = (sigma.float() * 1000.0)[:, None] * freqs[None]
        emb = torch.cat([args.cos(), args.sin()], dim=-1).to(self.dtype)
        vec = self.linear(F.silu(self.linear(emb, "time_in.in_layer.weight")), "time_in.out_layer.weight")
        active = F.silu(vec)
        mod_img = self.linear(active, "double_stream_modulation_img.lin.weight")[:, None].chunk(6, dim=-1)
        mod_txt = self.linear(active, "double_stream_modulation_txt.lin.weight")[:, None].chunk(6, dim=-1)
        mod_single = self.linear(active, "single_stream_modulation.lin.weight")[:, None].chunk(3, dim=-1)
        img = self.linear(x.to(self.dtype), "img_in.weight")
        txt = self.linear(ctx.to(self.dtype), "txt_in.weight")
        cos, sin = self.rope(torch.cat([txt_ids, img_ids], dim=0))
        t = txt.shape[1]
        for n in range(c["double"]):
            qkv = {}
            for s, stream, mod in (("txt", txt, mod_txt), ("img", img, mod_img)):
                p = f"double_blocks.{n}.{s}_"
                q, k, v = self.linear((1 + mod[1]) * self.layer_norm(stream) + mod[0], p + "attn.qkv.weight").chunk(3, dim=-1)
                qkv[s] = (self.heads(q, w[p + "attn.norm.query_norm.scale"]), self.heads(k, w[p + "attn.norm.key_norm.scale"]), self.heads(v))
            q, k, v = (torch.cat([qkv["txt"][i], qkv["img"][i]], dim=2) for i in range(3))
            attn = self.attention(q, k, v, cos, sin)
            out = {}
            for s, stream, mod, part in (("txt", txt, mod_txt, attn[:, :t]), ("img", img, mod_img, attn[:, t:])):
                p = f"double_blocks.{n}.{s}_"
                stream = stream + mod[2] * self.linear(part, p + "attn.proj.weight")
                gate, up = self.linear((1 + mod[4]) * self.layer_norm(stream) + mod[3], p + "mlp.0.weight").chunk(2, dim=-1)
                out[s] = stream + mod[5] * self.linear(F.silu(gate) * up, p + "mlp.2.weight")
            txt, img = out["txt"], out["img"]
        h = torch.cat([txt, img], dim=1)
        for n in range(c["single"]):
            p = f"single_blocks.{n}."
            projected = self.linear((1 + mod_single[1]) * self.layer_norm(h) + mod_single[0], p + "linear1.weight")
            q, k, v, gate, up = projected.split([d, d, d, m, m], dim=-1)
            attn = self.attention(self.heads(q, w[p + "norm.query_norm.scale"]), self.heads(k, w[p + "norm.key_norm.scale"]), self.heads(v), cos, sin)
            h = h + mod_single[2] * self.linear(torch.cat([attn, F.silu(gate) * up], dim=-1), p + "linear2.weight")
        img = h[:, t:]
        shift, scale = self.linear(active, "final_layer.adaLN_modulation.1.weight")[:, None].chunk(2, dim=-1)
        return self.linear((1 + scale) * self.layer_norm(img) + shift, "final_layer.linear.weight").float()


def check_fixtures(fixtures, device):
    """The baseline against Black Forest Labs' own outputs on the tiny fixture weights: float32 and bf16."""
    import torch
    weights = load_safetensors(os.path.join(fixtures, "weights", "transformer_bfl.safetensors"), device)
    rows = []
    for case in ("transformer_fwd_noref", "transformer_fwd_ref"):
        f = load_safetensors(os.path.join(fixtures, case + ".safetensors"), device)
        f["x_ids"], f["ctx_ids"] = f["x_ids"].reshape(-1, 4), f["ctx_ids"].reshape(-1, 4)
        tokens, text = f["x_ids"].shape[0], f["ctx_ids"].shape[0]
        # float32 within 1e-4 of the reference; bf16 keeps 8 significant bits, so 5 % of the output's range.
        scale = f["pred"].abs().max().item()
        for dtype, tolerance in ((torch.float32, 1e-4), (torch.bfloat16, 0.05 * scale)):
            model = Klein(FIXTURE_TINY, weights, dtype)
            with torch.inference_mode():
                pred = model.forward(f["x"].reshape(1, tokens, 128), f["ctx"].reshape(1, text, -1), f["timesteps"].reshape(1), f["x_ids"], f["ctx_ids"])
            error = (pred.reshape(-1) - f["pred"].reshape(-1).float()).abs().max().item()
            rows.append((f"oracle {case} {str(dtype).replace('torch.', '')}", f"max |Δ| {error:.2e}", "ok" if error <= tolerance else f"over {tolerance:g}"))
    return rows


def time_steps(sizes, device, warmup=2, runs=5):
    """klein 4B steps in bf16: median ms and effective TFLOP/s per size, with zero weights and prompt first
    (what FluxWeb's check runs: its packages are sparse files of zeros), then with random ones. A GEMM on zeros
    draws less power, so a power-limited GPU may clock higher on it: the first rows give the like-for-like
    ratio, the difference between the two says how much zeros flatter both."""
    import torch
    torch.manual_seed(0)
    rows = []
    for kind in ("zero", "random"):
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if kind == "zero":
            weights = {n: torch.zeros(s, device=device, dtype=torch.bfloat16) for n, s in parameter_shapes(KLEIN_4B).items()}
        else:
            weights = {n: (torch.randn(s, device=device, dtype=torch.bfloat16) * 0.02) for n, s in parameter_shapes(KLEIN_4B).items()}
        model = Klein(KLEIN_4B, weights, torch.bfloat16)
        for side in sizes:
            grid = side // 16
            tokens = grid * grid
            x = torch.randn(1, tokens, 128, device=device)
            ctx = torch.zeros(1, 512, KLEIN_4B["context"], device=device) if kind == "zero" else torch.randn(1, 512, KLEIN_4B["context"], device=device)
            img_ids = torch.stack([torch.zeros(tokens), torch.arange(tokens) // grid, torch.arange(tokens) % grid, torch.zeros(tokens)], dim=-1).to(device)
            txt_ids = torch.stack([torch.zeros(512), torch.zeros(512), torch.zeros(512), torch.arange(512)], dim=-1).to(device)
            sigma = torch.tensor([0.7], device=device)
            times = []
            with torch.inference_mode():
                for i in range(warmup + runs):
                    if device == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    model.forward(x, ctx, sigma, img_ids, txt_ids)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    if i >= warmup:
                        times.append((time.perf_counter() - start) * 1000)
            ms = sorted(times)[len(times) // 2]
            flop = FLOP_4B_AT_1024 * (tokens + 512) / 4608
            peak = f", peak memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device == "cuda" else ""
            rows.append((f"torch eager 4B {side}² step (bf16, SDPA, {kind} weights)", f"{ms:.1f} ms", f"{flop / (ms / 1000) / 1e12:.1f} effective TFLOP/s of {flop / 1e12:.1f}{peak}"))
        # One set of 4B weights on the device at a time.
        del model, weights
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def dry_run(fixtures, sizes):
    """What a real run would do, checked without torch: the fixture files and the shapes the timing uses."""
    rows = []
    header, _ = read_safetensors_header(os.path.join(fixtures, "weights", "transformer_bfl.safetensors"))
    expected = parameter_shapes(FIXTURE_TINY)
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    wrong = sorted(n for n in expected if n in header and tuple(header[n]["shape"]) != expected[n])
    if missing or extra or wrong:
        raise SystemExit(f"fixture weights do not match the model: missing {missing[:3]}, unexpected {extra[:3]}, wrong shapes {wrong[:3]}")
    rows.append(("fixture weights", f"{len(header)} tensors", "names and shapes match the forward pass"))
    for case in ("transformer_fwd_noref", "transformer_fwd_ref"):
        h, _ = read_safetensors_header(os.path.join(fixtures, case + ".safetensors"))
        for key in ("x", "x_ids", "ctx", "ctx_ids", "timesteps", "pred"):
            if key not in h:
                raise SystemExit(f"{case}: no '{key}'")
        rows.append((f"fixture {case}", f"{h['x_ids']['shape'][-2]} image + {h['ctx_ids']['shape'][-2]} text tokens", "would be compared in float32 and bf16"))
    params = sum(math.prod(s) for s in parameter_shapes(KLEIN_4B).values())
    rows.append(("4B weights, zero then random", f"{params:,} parameters", f"{params * 2 / 2**30:.2f} GiB in bf16, one set at a time"))
    for side in sizes:
        tokens = (side // 16) ** 2 + 512
        rows.append((f"would time 4B {side}²", f"{tokens} tokens", f"{FLOP_4B_AT_1024 * tokens / 4608 / 1e12:.1f} linear TFLOP a step"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", required=True, help="tests/fixtures/flux2-tiny of a FluxWeb checkout")
    parser.add_argument("--sizes", default="512,1024,2048", help="image sides to time (comma separated)")
    parser.add_argument("--out", help="folder for torch-baseline.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="check fixtures and plan without importing torch")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.dry_run:
        rows = dry_run(args.fixtures, sizes)
    else:
        import torch
        rows = [("torch", torch.__version__, f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name() if args.device == 'cuda' else 'CPU'}")]
        rows += check_fixtures(args.fixtures, args.device)
        if any(r[2] != "ok" for r in rows if r[0].startswith("oracle")):
            rows.append(("timing", "skipped", "the baseline does not compute the oracle's function"))
        else:
            rows += time_steps(sizes, args.device)
    print("| measure | value | note |")
    print("|---|---|---|")
    for measure, value, note in rows:
        print(f"| {measure} | {value} | {note} |")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "torch-baseline.json"), "w") as f:
            json.dump([dict(measure=m, value=v, note=n) for m, v, n in rows], f, indent=2)
    return 1 if any(r[2].startswith("over") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
