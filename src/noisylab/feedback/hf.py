"""Adapter: any Hugging Face causal LM with a tokenizer as a :class:`~noisylab.feedback.Policy`.

The world's tokens are looked up in the tokenizer by their names
(:data:`noisylab.feedback.world.TOKEN_NAMES`, e.g. ``"<sep>"``, ``"a"``), and the model's
next-token distribution is restricted to those ids (then PAD and the control tokens are masked, as for
:class:`~noisylab.feedback.policy.TransformerPolicy`), so sampling and ``logprobs`` describe
one distribution over world tokens. Prompt PAD tokens are ordinary tokens here too (no
attention mask), exactly as in the tiny transformer. Needs the ``hf`` extra; nothing is
downloaded: pass a model and tokenizer you built or loaded yourself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from noisylab._optional import require
from noisylab.feedback.policy import check_pair, draw_tokens, response_mask_t
from noisylab.feedback.world import CONTROL_TOKENS, EOS, PAD, RESPONSE_LEN, TOKEN_NAMES


def _cache(out: Any) -> dict[str, Any]:
    """The model's KV cache as a keyword: ``cache`` (transformers ≥ 5.x) or
    ``past_key_values`` (older releases)."""
    if "cache" in out and out["cache"] is not None:
        return {"cache": out["cache"]}
    return {"past_key_values": out["past_key_values"]}


class HFPolicy(nn.Module):
    """Wrap ``model`` (a ``transformers`` causal LM) and ``tokenizer`` as a Policy.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Any model whose forward returns ``.logits`` (B, T, V_hf) and accepts
        ``past_key_values``/``use_cache``.
    tokenizer : transformers tokenizer
        Must contain every world token name.
    token_names : sequence of str
        The world's tokens, indexed by world id (default: the world's vocabulary).
    """

    banned: tuple[int, ...] = (PAD, *CONTROL_TOKENS)
    ban: Tensor  # (V_world,) bool buffer: tokens a response never contains
    hf_ids: Tensor  # (V_world,) the tokenizer id of each world token

    def __init__(
        self, model: Any, tokenizer: Any, token_names: Sequence[str] = tuple(TOKEN_NAMES)
    ) -> None:
        super().__init__()
        require("transformers", "hf")
        self.model = model
        ids = tokenizer.convert_tokens_to_ids(list(token_names))
        unk = getattr(tokenizer, "unk_token_id", None)
        missing = [
            n for n, i in zip(token_names, ids) if i is None or (unk is not None and i == unk)
        ]
        if missing:
            raise ValueError(f"tokenizer lacks the world tokens {missing}; expected all of them")
        self.register_buffer("hf_ids", torch.tensor(ids, dtype=torch.long), persistent=False)
        ban = torch.zeros(len(token_names), dtype=torch.bool)
        ban[list(self.banned)] = True
        self.register_buffer("ban", ban, persistent=False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _world_logits(self, hf_logits: Tensor) -> Tensor:
        logits = hf_logits.index_select(-1, self.hf_ids)  # (..., V_world)
        return logits.masked_fill(self.ban, float("-inf"))

    def logprobs(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """log π(y_t | x, y_<t) over world tokens, 0 after the first EOS. (B, L)"""
        check_pair(prompts, responses)
        P = prompts.shape[1]
        seq = torch.cat([prompts, responses.clamp_min(0)], dim=1)  # (B, P+L) world ids
        out = self.model(input_ids=self.hf_ids[seq])
        logp = torch.log_softmax(self._world_logits(out.logits[:, P - 1 : -1]), dim=-1)
        mask = response_mask_t(responses)
        tok = responses.masked_fill(~mask, EOS)
        lp = logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)  # (B, L)
        return lp.masked_fill(~mask, 0.0)

    @torch.no_grad()
    def sample(
        self,
        prompts: Tensor,
        *,
        max_new_tokens: int = RESPONSE_LEN,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample world-token responses (B, max_new_tokens) with the model's KV cache.

        The model runs in eval mode while sampling (no dropout), then its mode is restored."""
        check_pair(prompts)
        was_training = self.model.training
        self.model.eval()
        try:
            return self._sample(prompts, max_new_tokens, temperature, top_k, generator)
        finally:
            self.model.train(was_training)

    def _sample(
        self,
        prompts: Tensor,
        max_new_tokens: int,
        temperature: float,
        top_k: int | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        B = prompts.shape[0]
        out_tokens = torch.full((B, max_new_tokens), PAD, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        out = self.model(input_ids=self.hf_ids[prompts], use_cache=True)
        for t in range(max_new_tokens):
            last = self._world_logits(out.logits[:, -1])  # (B, V_world)
            tok = draw_tokens(last, temperature, top_k, generator).masked_fill(done, PAD)
            out_tokens[:, t] = tok
            done = done | (tok == EOS)
            if bool(done.all()) or t == max_new_tokens - 1:
                break
            out = self.model(input_ids=self.hf_ids[tok][:, None], use_cache=True, **_cache(out))
        return out_tokens
