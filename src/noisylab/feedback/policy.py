"""The policy: a tiny causal transformer (nanoGPT style) with a KV cache, behind a small protocol.

Methods only use :class:`Policy`: ``sample`` (batched, temperature, top-k), ``logprobs``
(per-token log-probabilities of given responses) and ``trainable_parameters``. Prompts and
responses are tensors of world token ids (``noisylab.feedback.world``): prompts (B, P)
left-padded, responses (B, L) with EOS then PAD.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noisylab.feedback.world import CONTROL_TOKENS, EOS, PAD, PROMPT_LEN, RESPONSE_LEN, VOCAB_SIZE

KVCache = list[tuple[Tensor, Tensor]]


@runtime_checkable
class Policy(Protocol):
    """What every method needs from a language model."""

    def sample(
        self,
        prompts: Tensor,
        *,
        max_new_tokens: int = RESPONSE_LEN,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor: ...

    def logprobs(self, prompts: Tensor, responses: Tensor) -> Tensor: ...

    def trainable_parameters(self) -> list[nn.Parameter]: ...


# ----------------------------------------------------------------------------- the network
@dataclass
class GPTConfig:
    """Size of the tiny transformer (≈100k parameters at the defaults)."""

    vocab_size: int = VOCAB_SIZE
    block_size: int = PROMPT_LEN + RESPONSE_LEN
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_head:
            raise ValueError(f"d_model {cfg.d_model} must be divisible by n_head {cfg.n_head}")
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, filled: int | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Attend over ``x`` (B, T, D) and, with ``past``, over the cached keys/values.

        ``past`` is either the (B, H, S, hd) keys and values of the S earlier tokens (they
        are concatenated), or, with ``filled = S``, a preallocated (B, H, S_max, hd) buffer
        whose first S slots hold them: the new one is written into slot S in place and
        attention reads the S+1 filled slots (no copy of the cache per token).
        """
        B, T, D = x.shape  # (B, T, D)
        q, k, v = self.qkv(x).split(D, dim=2)
        hd = D // self.n_head
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        if past is not None:
            if T != 1:
                raise ValueError(f"a cached step takes one token at a time, got {T}")
            if filled is None:
                k = torch.cat([past[0], k], dim=2)  # (B, H, S+1, hd)
                v = torch.cat([past[1], v], dim=2)
            else:
                if filled >= past[0].shape[2]:
                    raise ValueError(f"the cache holds {past[0].shape[2]} slots, all filled")
                past[0][:, :, filled : filled + 1] = k
                past[1][:, :, filled : filled + 1] = v
                y = F.scaled_dot_product_attention(
                    q, past[0][:, :, : filled + 1], past[1][:, :, : filled + 1]
                )
                y = y.transpose(1, 2).reshape(B, T, D)
                return self.proj(y), past  # the whole buffer stays the cache
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, filled: int | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.ln1(x), past, filled)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, kv


class TinyGPT(nn.Module):
    """A decoder-only transformer: token + learned position embeddings, pre-LN blocks, tied head."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.block_size, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(
        self, idx: Tensor, past: KVCache | None = None, filled: int | None = None
    ) -> tuple[Tensor, Tensor, KVCache]:
        """Logits (B, T, V), final hidden states (B, T, D) and the updated KV cache.

        ``past`` with ``filled=None`` is the cache returned by an earlier call (it grows by
        concatenation); with ``filled = S`` it is a preallocated cache (see
        :meth:`empty_cache`) whose first S positions are filled, updated in place.
        """
        _B, T = idx.shape  # (B, T)
        start = 0 if past is None else past[0][0].shape[2] if filled is None else filled
        if start + T > self.cfg.block_size:
            raise ValueError(
                f"sequence of {start + T} tokens exceeds block_size {self.cfg.block_size}"
            )
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.tok(idx) + self.pos(pos)[None]  # (B, T, D)
        present: KVCache = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, None if past is None else past[i], filled)
            present.append(kv)
        h = self.ln_f(x)  # (B, T, D)
        logits = h @ self.tok.weight.T  # (B, T, V)
        return logits, h, present

    def empty_cache(self, batch: int, length: int, like: KVCache) -> KVCache:
        """A preallocated KV cache for ``batch`` rows and ``length`` positions whose first
        positions are copied from ``like`` (the cache of a full forward pass)."""
        out: KVCache = []
        for k, v in like:
            _B, H, S, hd = k.shape
            kk = k.new_empty(batch, H, length, hd)
            vv = v.new_empty(batch, H, length, hd)
            kk[:, :, :S] = k
            vv[:, :, :S] = v
            out.append((kk, vv))
        return out


def length_buckets(lengths: Tensor, prefix: int, min_rows: int = 16) -> list[tuple[Tensor, int]]:
    """Split rows into ≤ 2 groups run with their own trimmed response length.

    ``lengths`` (B,) are the response lengths that matter (up to and including the first
    EOS), ``prefix`` the prompt length. Returns ``[(rows, L_g), ...]``: each group's row
    indices and the longest length in it. The split (at most one, rows sorted by length)
    minimises the tokens run, Σ_g |g|·(prefix + L_g), and is taken only when it saves at
    least 15% over one group and each group has ≥ ``min_rows`` rows; otherwise one group.
    """
    B = int(lengths.shape[0])
    lmax = int(lengths.max()) if B else 0
    every = torch.arange(B, device=lengths.device)
    if B < 2 * min_rows:
        return [(every, lmax)]
    srt, order = torch.sort(lengths, stable=True)
    cost = prefix + srt  # cost per row of a group ending at that row
    s = torch.arange(min_rows, B - min_rows + 1, device=lengths.device)
    total = s * cost[s - 1] + (B - s) * (prefix + lmax)  # (candidates,)
    best = int(torch.argmin(total))
    if float(total[best]) > 0.85 * B * (prefix + lmax):
        return [(every, lmax)]
    cut = int(s[best])
    return [(order[:cut], int(srt[cut - 1])), (order[cut:], lmax)]


def forward_trimmed(
    model: TinyGPT, prompts: Tensor, responses: Tensor, bucket: bool = True
) -> tuple[Tensor, Tensor]:
    """``model`` on [prompts, responses], skipping response positions after the first EOS.

    Causal attention means a position never depends on later tokens, so running each row
    only up to its first EOS gives the same logits and hidden states there; those after it
    (which every caller masks) are returned as 0. Rows are optionally run in two length
    groups (:func:`length_buckets`). Returns logits (B, P+L, V) and hidden states
    (B, P+L, D), exactly as ``model(cat([prompts, responses]))`` up to float rounding.
    """
    B, P = prompts.shape
    L = responses.shape[1]
    resp = responses.clamp_min(0)
    if B == 0 or L == 0:
        logits, h, _ = model(torch.cat([prompts, resp], dim=1))
        return logits, h
    lengths = response_mask_t(responses).sum(1)
    groups = length_buckets(lengths, P) if bucket else [(torch.arange(B), int(lengths.max()))]
    if len(groups) == 1:
        lg = max(1, groups[0][1]) if B else L
        logits, h, _ = model(torch.cat([prompts, resp[:, :lg]], dim=1))
        if lg < L:
            logits = F.pad(logits, (0, 0, 0, L - lg))
            h = F.pad(h, (0, 0, 0, L - lg))
        return logits, h
    outs_l, outs_h, rows = [], [], []
    for idx, lg in groups:
        lg = max(1, lg)
        logits, h, _ = model(torch.cat([prompts[idx], resp[idx, :lg]], dim=1))
        outs_l.append(F.pad(logits, (0, 0, 0, L - lg)))
        outs_h.append(F.pad(h, (0, 0, 0, L - lg)))
        rows.append(idx)
    inv = torch.empty(B, dtype=torch.long)
    inv[torch.cat(rows)] = torch.arange(B)
    return torch.cat(outs_l)[inv], torch.cat(outs_h)[inv]


# ----------------------------------------------------------------------------- shared helpers
def response_mask_t(responses: Tensor) -> Tensor:
    """Response positions up to and including the first EOS. (B, L) bool."""
    is_eos = (responses == EOS).long()
    return (torch.cumsum(is_eos, dim=1) - is_eos) == 0


def draw_tokens(
    logits: Tensor,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    *,
    u: Tensor | None = None,
) -> Tensor:
    """Sample one token per row by inverse CDF of softmax(logits / T), optionally top-k. (B,)

    ``u`` (B,) are the uniforms to use; by default one is drawn per row from ``generator``.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if u is None:
        u = torch.rand(logits.shape[0], generator=generator, device=logits.device)  # (B,)
    if temperature == 0:
        return logits.argmax(dim=-1)
    z = logits / temperature  # (B, V)
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k!r}")
        kth = torch.topk(z, min(top_k, z.shape[-1]), dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    cdf = torch.cumsum(torch.softmax(z, dim=-1), dim=-1)  # (B, V)
    tok = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1)).squeeze(1)
    return tok.clamp_max(logits.shape[-1] - 1)


def check_pair(prompts: Tensor, responses: Tensor | None = None) -> None:
    if prompts.ndim != 2:
        raise ValueError(f"prompts must be (B, P) token ids, got shape {tuple(prompts.shape)}")
    if responses is not None and (responses.ndim != 2 or responses.shape[0] != prompts.shape[0]):
        raise ValueError(
            f"responses must be ({prompts.shape[0]}, L) to match the prompts, "
            f"got {tuple(responses.shape)}"
        )


# ----------------------------------------------------------------------------- the policy
class TransformerPolicy(nn.Module):
    """A :class:`Policy` backed by :class:`TinyGPT`.

    Responses never contain PAD or the control tokens (POS/NEG, Quark's quantiles): their logits are masked in
    both sampling and ``logprobs``, so the two describe the same distribution.

    Example
    -------
    >>> import torch
    >>> pi = TransformerPolicy(GPTConfig(), seed=0)
    >>> y = pi.sample(torch.full((2, 9), 5), generator=torch.Generator().manual_seed(0))
    >>> tuple(pi.logprobs(torch.full((2, 9), 5), y).shape) == tuple(y.shape)
    True
    """

    banned: tuple[int, ...] = (PAD, *CONTROL_TOKENS)
    ban: Tensor  # (V,) bool buffer: tokens a response never contains

    def __init__(self, cfg: GPTConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.cfg = cfg or GPTConfig()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = TinyGPT(self.cfg)
        ban = torch.zeros(self.cfg.vocab_size, dtype=torch.bool)
        ban[list(self.banned)] = True
        self.register_buffer("ban", ban, persistent=False)

    def _masked(self, logits: Tensor) -> Tensor:
        return logits.masked_fill(self.ban, float("-inf"))

    def clone(self) -> TransformerPolicy:
        """An independent deep copy (a new trainable policy from this checkpoint)."""
        return copy.deepcopy(self)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def forward_tokens(self, prompts: Tensor, responses: Tensor) -> tuple[Tensor, Tensor]:
        """Masked logits predicting each response token (B, L, V) and the hidden states at
        the response tokens themselves (B, L, D).

        Positions after a row's first EOS are not computed (:func:`forward_trimmed`): their
        logits are 0 before masking and their hidden states 0; every caller masks them."""
        check_pair(prompts, responses)
        P = prompts.shape[1]
        logits, h = forward_trimmed(self.model, prompts, responses)  # (B, P+L, ·)
        pred = self._masked(logits[:, P - 1 : -1])  # (B, L, V)
        hid = h[:, P:]  # (B, L, D)
        return pred, hid

    def logprobs(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """log π(y_t | x, y_<t) for each response token, 0 after the first EOS. (B, L)"""
        pred, _ = self.forward_tokens(prompts, responses)
        logp = torch.log_softmax(pred, dim=-1)  # (B, L, V)
        mask = response_mask_t(responses)
        tok = responses.masked_fill(~mask, EOS)
        lp = logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)  # (B, L)
        return lp.masked_fill(~mask, 0.0)

    def token_entropy(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """Entropy of π(· | x, y_<t) at each response position, 0 after EOS. (B, L)"""
        pred, _ = self.forward_tokens(prompts, responses)
        logp = torch.log_softmax(pred, dim=-1)
        ent = -(logp.exp() * logp.nan_to_num(neginf=0.0)).sum(-1)
        return ent.masked_fill(~response_mask_t(responses), 0.0)

    @torch.no_grad()
    def sample(
        self,
        prompts: Tensor,
        *,
        max_new_tokens: int = RESPONSE_LEN,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Sample responses (B, max_new_tokens): tokens, EOS, then PAD.

        One uniform draw per row and step (inverse-CDF sampling), drawn for all B rows
        every step whether or not a row has finished, so the stream and hence the tokens
        depend only on the generator's state, and the cached and uncached paths consume it
        identically and give the same responses. With the cache, keys and values live in
        one preallocated buffer written in place; both paths drop finished rows from the
        batch whenever they are at least half of it (no compute on finished rows).
        """
        check_pair(prompts)
        B, P = prompts.shape
        dev = prompts.device
        out = torch.full((B, max_new_tokens), PAD, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        logits, _, cache = self.model(prompts)
        if use_cache:
            cache = self.model.empty_cache(B, P + max_new_tokens, cache)
        last = logits[:, -1]  # (b, V) for the rows still generated
        active = torch.arange(B, device=dev)  # their indices, in cache order
        seq = prompts
        for t in range(max_new_tokens):
            u = torch.rand(B, generator=generator, device=dev)[active]  # (b,)
            tok = draw_tokens(self._masked(last), temperature, top_k, generator, u=u)
            tok = tok.masked_fill(done[active], PAD)
            out[active, t] = tok
            done[active] |= tok == EOS
            if bool(done.all()) or t == max_new_tokens - 1:
                break
            live = ~done[active]
            if 2 * int(live.sum()) <= active.numel():  # compact: drop the finished rows
                keep = torch.nonzero(live).flatten()
                active, tok, seq = active[keep], tok[keep], seq[keep]
                cache = [(k[keep], v[keep]) for k, v in cache]
            if use_cache:
                logits, _, cache = self.model(tok[:, None], cache, filled=P + t)
            else:
                seq = torch.cat([seq, tok[:, None]], dim=1)
                logits, _, _ = self.model(seq)
            last = logits[:, -1]
        return out


def sample_batched(
    policy: Policy,
    prompts: Tensor,
    *,
    batch_size: int = 512,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    max_new_tokens: int = RESPONSE_LEN,
) -> Tensor:
    """``policy.sample`` over chunks of ``batch_size`` prompts; responses padded to one width."""
    outs = []
    for i in range(0, prompts.shape[0], batch_size):
        outs.append(
            policy.sample(
                prompts[i : i + batch_size],
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_k=top_k,
                generator=generator,
            )
        )
    width = max(o.shape[1] for o in outs) if outs else max_new_tokens
    outs = [F.pad(o, (0, width - o.shape[1]), value=PAD) for o in outs]
    return torch.cat(outs, dim=0) if outs else torch.empty(0, width, dtype=torch.long)


@torch.no_grad()
def sequence_logprobs(
    policy: Policy, prompts: Tensor, responses: Tensor, batch_size: int = 1024
) -> Tensor:
    """Σ_t log π(y_t | x, y_<t) per response, in chunks, without gradients. (B,)"""
    out = [
        policy.logprobs(prompts[i : i + batch_size], responses[i : i + batch_size]).sum(-1)
        for i in range(0, prompts.shape[0], batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0)


def count_parameters(module: nn.Module | Sequence[nn.Parameter] | Iterator[nn.Parameter]) -> int:
    """Number of scalar parameters."""
    params = module.parameters() if isinstance(module, nn.Module) else module
    return sum(p.numel() for p in params)
