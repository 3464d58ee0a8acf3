"""Benchmark the feedback library's hot paths against straightforward references, in one run.

Old-vs-new ratios across commits cannot be measured in one process, so each fast path is
timed side by side with a plain reference written here:

1. ``generation``: ``TransformerPolicy.sample`` (batched over prompts, preallocated KV
   cache written in place, finished rows dropped from the batch) against (a) the same
   batch re-running the whole sequence for every new token (no KV cache) and (b) one
   prompt at a time without a cache. (a) consumes the generator identically, so its tokens
   must equal ours (checked); (b) is timed on a slice and scaled to the batch; and (c) the
   batch with a KV cache grown by concatenation and no compaction (the previous library
   algorithm; same tokens, checked).
2. ``train_step``: one SFT step (log-likelihood forward + backward, clipping, AdamW) with
   responses run only up to their first EOS in two length groups and the fused AdamW,
   against the full-width forward and the per-parameter AdamW loop. Same loss (checked).
3. ``rm_score``: ``RewardModel.score`` against the full-width forward. Same scores (checked).
4. ``study``: wall time of ``noisylab run feedback --preset tiny`` (a subprocess; skip with
   ``--no-study``).

Method. One process, ``torch.set_num_threads(1)`` (what the study uses); CPU seconds by
``time.process_time``; ours and the reference alternate ``--repeats`` times and the best of
each is kept, so machine load affects both alike. The policy is first fitted for a few
SFT steps on demonstrations so that its responses have realistic lengths.

Usage: ``python benchmarks/feedback.py [--json] [--quick] [--no-study]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

from noisylab.feedback import GPTConfig, RewardModel, TransformerPolicy, World, train_lm
from noisylab.feedback.policy import draw_tokens, response_mask_t
from noisylab.feedback.world import EOS, PAD, RESPONSE_LEN
from noisylab.runtime import machine


def ref_sample_no_cache(pi: TransformerPolicy, prompts, generator) -> torch.Tensor:
    """Batched sampling that re-runs the full sequence for every token (no KV cache)."""
    B = prompts.shape[0]
    out = torch.full((B, RESPONSE_LEN), PAD, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    seq = prompts
    with torch.no_grad():
        for t in range(RESPONSE_LEN):
            logits, _, _ = pi.model(seq)
            z = logits[:, -1].masked_fill(pi.ban, float("-inf"))
            tok = draw_tokens(z, 1.0, None, generator).masked_fill(done, PAD)
            out[:, t] = tok
            done = done | (tok == EOS)
            if bool(done.all()):
                break
            seq = torch.cat([seq, tok[:, None]], dim=1)
    return out


def ref_sample_concat_cache(pi: TransformerPolicy, prompts, generator) -> torch.Tensor:
    """Batched sampling with a KV cache grown by concatenation and no row compaction."""
    B = prompts.shape[0]
    out = torch.full((B, RESPONSE_LEN), PAD, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    with torch.no_grad():
        logits, _, cache = pi.model(prompts)
        for t in range(RESPONSE_LEN):
            z = logits[:, -1].masked_fill(pi.ban, float("-inf"))
            tok = draw_tokens(z, 1.0, None, generator).masked_fill(done, PAD)
            out[:, t] = tok
            done = done | (tok == EOS)
            if bool(done.all()):
                break
            logits, _, cache = pi.model(tok[:, None], cache)
    return out


def ref_sample_per_prompt(pi: TransformerPolicy, prompts, generator) -> torch.Tensor:
    """One prompt at a time, no cache: the most straightforward generation loop."""
    rows = []
    for i in range(prompts.shape[0]):
        rows.append(ref_sample_no_cache(pi, prompts[i : i + 1], generator))
    return torch.cat(rows)


def ref_logprobs(pi: TransformerPolicy, prompts, responses) -> torch.Tensor:
    """log π(y_t | ·) on the full-width sequence [prompts, responses] (no trimming)."""
    P = prompts.shape[1]
    logits, _, _ = pi.model(torch.cat([prompts, responses.clamp_min(0)], dim=1))
    logp = torch.log_softmax(logits[:, P - 1 : -1].masked_fill(pi.ban, float("-inf")), -1)
    mask = response_mask_t(responses)
    tok = responses.masked_fill(~mask, EOS)
    return logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, 0.0)


def ref_rm_score(rm: RewardModel, prompts, responses) -> torch.Tensor:
    """The token readout R(x, y) on the full-width sequence (no trimming)."""
    P = prompts.shape[1]
    with torch.no_grad():
        logits, h, _ = rm.body.model(torch.cat([prompts, responses.clamp_min(0)], dim=1))
        pred = logits[:, P - 1 : -1].masked_fill(rm.body.ban, float("-inf"))
        mask = response_mask_t(responses)
        tok = responses.masked_fill(~mask, 0).clamp_min(0)
        ll = torch.log_softmax(pred, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1)
        r = rm.ll_scale * ll.masked_fill(~mask, 0.0) + rm.head(h[:, P:]).squeeze(-1)
        return r.masked_fill(~mask, 0.0).sum(-1)


def train_step_fn(pi, prompts, responses, fast: bool):
    params = pi.trainable_parameters()
    kw = {"fused": True} if fast else {"foreach": False}
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), **kw)
    m = response_mask_t(responses).float()

    def step() -> float:
        lp = pi.logprobs(prompts, responses) if fast else ref_logprobs(pi, prompts, responses)
        loss = -(lp * m).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return float(loss.detach())

    return step


def best_of(fns: dict, repeats: int) -> dict:
    """Alternate the callables ``repeats`` times; best CPU seconds of each."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.process_time()
            f()
            best[k] = min(best[k], time.process_time() - t)
    return best


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats")
    ap.add_argument("--no-study", action="store_true", help="skip the tiny-preset study run")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    repeats = a.repeats or (2 if a.quick else 3)
    B = 128 if a.quick else 512
    world = World.build(0, 0.1)
    xs = torch.as_tensor(world.splits["sft"].tokens)
    ys = torch.as_tensor(world.demonstrations)
    pi = TransformerPolicy(GPTConfig(), seed=0)
    train_lm(pi, xs, ys, steps=60 if a.quick else 150, batch_size=64, lr=3e-3, seed=0)
    x = xs[:B]
    rows = []

    # 1. generation ---------------------------------------------------------------------
    g1, g2 = torch.Generator(), torch.Generator()
    ours = pi.sample(x, generator=g1.manual_seed(1))
    ref = ref_sample_no_cache(pi, x, g2.manual_seed(1))
    ref2 = ref_sample_concat_cache(pi, x, g2.manual_seed(1))
    if not (torch.equal(ours, ref) and torch.equal(ours, ref2)):
        raise SystemExit("generation: our sampling and the references disagree")
    k = 16 if a.quick else 32  # per-prompt reference on a slice, scaled to B
    t = best_of(
        {
            "ours": lambda: pi.sample(x, generator=g1.manual_seed(1)),
            "no_cache": lambda: ref_sample_no_cache(pi, x, g2.manual_seed(1)),
            "concat": lambda: ref_sample_concat_cache(pi, x, g2.manual_seed(1)),
            "per_prompt": lambda: ref_sample_per_prompt(pi, x[:k], g2.manual_seed(1)),
        },
        repeats,
    )
    per_prompt = t["per_prompt"] * B / k
    lengths = response_mask_t(ours).sum(1).float()
    rows.append(
        {
            "case": f"generation B={B} (mean length {lengths.mean():.1f}, max {int(lengths.max())})",
            "ours_s": round(t["ours"], 4),
            "no_cache_batched_s": round(t["no_cache"], 4),
            "no_cache_per_prompt_s": round(per_prompt, 4),
            "concat_cache_batched_s": round(t["concat"], 4),
            "speedup_vs_concat_cache": round(t["concat"] / t["ours"], 2),
            "speedup_vs_no_cache": round(t["no_cache"] / t["ours"], 2),
            "speedup_vs_per_prompt": round(per_prompt / t["ours"], 2),
        }
    )

    # 2. a training step -------------------------------------------------------------------
    xb, yb = xs[:64], ys[:64]
    fast, slow = pi.clone(), pi.clone()
    step_fast, step_slow = train_step_fn(fast, xb, yb, True), train_step_fn(slow, xb, yb, False)
    lf, ls = step_fast(), step_slow()
    if abs(lf - ls) > 1e-4 * max(1.0, abs(ls)):
        raise SystemExit(f"train step: losses differ, {lf} vs {ls}")
    t = best_of({"ours": step_fast, "ref": step_slow}, repeats * 3)
    rows.append(
        {
            "case": "SFT step B=64 (trimmed+grouped forward, fused AdamW vs full width, loop)",
            "ours_s": round(t["ours"], 4),
            "reference_s": round(t["ref"], 4),
            "speedup": round(t["ref"] / t["ours"], 2),
        }
    )

    # 3. reward-model scoring -------------------------------------------------------------
    rm = RewardModel(pi)
    yr = ours  # policy samples of realistic length
    s_fast, s_ref = rm.score(x, yr), ref_rm_score(rm, x, yr)
    if not torch.allclose(s_fast, s_ref, atol=1e-4):
        raise SystemExit("rm score: trimmed and full-width scores differ")
    t = best_of({"ours": lambda: rm.score(x, yr), "ref": lambda: ref_rm_score(rm, x, yr)}, repeats)
    rows.append(
        {
            "case": f"reward-model score B={B} (trimmed vs full width)",
            "ours_s": round(t["ours"], 4),
            "reference_s": round(t["ref"], 4),
            "speedup": round(t["ref"] / t["ours"], 2),
        }
    )

    result: dict = {
        "rows": rows,
        "threads": 1,
        "machine": machine(),
        "load_avg": os.getloadavg(),
    }
    # 4. the tiny study -------------------------------------------------------------------
    if not a.no_study:
        with tempfile.TemporaryDirectory() as out:
            cmd = [
                sys.executable,
                "-m",
                "noisylab.cli",
                "run",
                "feedback",
                "--preset",
                "tiny",
                "--no-store",
            ]
            t0, r0 = time.perf_counter(), os.times()
            subprocess.run([*cmd, "--out", out], check=True, capture_output=True)
            r1 = os.times()
            result["study_tiny"] = {
                "wall_s": round(time.perf_counter() - t0, 1),
                "cpu_s": round(r1.children_user + r1.children_system - r0[2] - r0[3], 1),
                "command": " ".join(cmd[1:]) + " --out DIR",
            }
        result["load_avg_after"] = os.getloadavg()
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        for r in rows:
            print(json.dumps(r))
        if "study_tiny" in result:
            print("study:", result["study_tiny"])
    return result


if __name__ == "__main__":
    main()
