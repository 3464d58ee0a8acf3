"""The preference world: a token language, instruction tasks, a gold reward and a spurious feature.

A prompt is ``[PAD.., TASK, c_1..c_k, SEP]`` left-padded to a fixed width (the first slot is
reserved for a control token); a response is up to ``MAX_RESPONSE`` content tokens followed
by ``EOS`` and right-padded with ``PAD``. Tasks act on the prompt's content tokens
``c_1..c_k`` (k = 3..6): copy, reverse, sort, and say-it-twice.

The gold reward r*(x, y) gives partial credit for the target positions matched and charges
for every token beyond the target's length; the spurious feature s(y) is the response
length. On the demonstrations the two correlate (a lazy expert stops early), but the gold
payoff of length turns negative past the target (AlpacaFarm's length bias; Dubois et al.
2023, §3.3; the "faithful small-scale world" of the project reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- vocabulary
PAD, EOS, SEP, POS, NEG = 0, 1, 2, 3, 4
TASKS = ("copy", "reverse", "sort", "twice")
TASK_TOKEN = {name: 5 + i for i, name in enumerate(TASKS)}  # 5..8
N_LETTERS = 16
FIRST_LETTER = 5 + len(TASKS)  # 9
LETTERS = tuple(range(FIRST_LETTER, FIRST_LETTER + N_LETTERS))  # 9..24
N_QUANTILES = 4
#: Quark's reward-quantile control tokens, lowest to highest (Lu et al. 2022).
QUANTILE_TOKENS = tuple(range(FIRST_LETTER + N_LETTERS, FIRST_LETTER + N_LETTERS + N_QUANTILES))
VOCAB_SIZE = FIRST_LETTER + N_LETTERS + N_QUANTILES  # 29
CONTROL_TOKENS = (POS, NEG, *QUANTILE_TOKENS)
TOKEN_NAMES = (
    ["<pad>", "<eos>", "<sep>", "<pos>", "<neg>"]
    + [f"<{t}>" for t in TASKS]
    + [chr(ord("a") + i) for i in range(N_LETTERS)]
    + [f"<q{i}>" for i in range(N_QUANTILES)]
)

MIN_CONTENT, MAX_CONTENT = 3, 6
PROMPT_LEN = 1 + 1 + MAX_CONTENT + 1  # control slot, task, content, SEP → 9
MAX_RESPONSE = 16  # content tokens; one more slot for EOS
RESPONSE_LEN = MAX_RESPONSE + 1  # 17
LENGTH_PENALTY = 0.10

#: AlpacaFarm's split sizes (Dubois et al. 2023, §3.1); scaled by ``World.scale``.
SPLIT_SIZES = {"sft": 10_000, "preference": 10_000, "unlabeled": 20_000, "val": 2_000, "eval": 805}


def decode(tokens: np.ndarray) -> str:
    """Human-readable text of a 1-D token array (pads dropped)."""
    return " ".join(TOKEN_NAMES[int(t)] for t in np.asarray(tokens) if int(t) != PAD)


@dataclass(frozen=True)
class Prompts:
    """A batch of instructions.

    Attributes
    ----------
    tokens : np.ndarray (n, PROMPT_LEN) int64
        Left-padded prompt tokens (slot 0 is the control slot, PAD unless conditioned).
    task : np.ndarray (n,) int64
        Index into :data:`TASKS`.
    content : np.ndarray (n, MAX_CONTENT) int64
        Content tokens, right-padded with PAD.
    length : np.ndarray (n,) int64
        Number of content tokens k.
    """

    tokens: np.ndarray
    task: np.ndarray
    content: np.ndarray
    length: np.ndarray

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def subset(self, idx: np.ndarray) -> Prompts:
        return Prompts(self.tokens[idx], self.task[idx], self.content[idx], self.length[idx])

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        """The correct responses: ``(targets (n, MAX_RESPONSE) padded with PAD, lengths (n,))``."""
        return targets(self)


def make_prompts(n: int, rng: np.random.Generator) -> Prompts:
    """Draw ``n`` instructions: a uniform task, k ~ U{3..6} content tokens uniform over letters."""
    if n < 0:
        raise ValueError(f"number of prompts must be >= 0, got {n}")
    task = rng.integers(0, len(TASKS), size=n)
    length = rng.integers(MIN_CONTENT, MAX_CONTENT + 1, size=n)
    content = rng.integers(FIRST_LETTER, FIRST_LETTER + N_LETTERS, size=(n, MAX_CONTENT))
    content = np.where(np.arange(MAX_CONTENT)[None, :] < length[:, None], content, PAD)
    tokens = np.full((n, PROMPT_LEN), PAD, dtype=np.int64)
    for i in range(n):
        k = int(length[i])
        body = [TASK_TOKEN[TASKS[task[i]]], *content[i, :k].tolist(), SEP]
        tokens[i, PROMPT_LEN - len(body) :] = body
    return Prompts(tokens, task.astype(np.int64), content.astype(np.int64), length.astype(np.int64))


def with_control(prompt_tokens: np.ndarray, control: int) -> np.ndarray:
    """Put a control token (``POS``/``NEG``/a Quark quantile token) in slot 0 of the prompts."""
    if control != PAD and control not in CONTROL_TOKENS:
        raise ValueError(
            f"control token must be PAD ({PAD}) or one of {CONTROL_TOKENS}, got {control}"
        )
    out = np.array(prompt_tokens, dtype=np.int64, copy=True)
    out[:, 0] = control
    return out


def targets(prompts: Prompts) -> tuple[np.ndarray, np.ndarray]:
    """Correct responses of each task: ``(targets (n, MAX_RESPONSE), lengths (n,))``."""
    n = len(prompts)
    out = np.full((n, MAX_RESPONSE), PAD, dtype=np.int64)
    lens = np.zeros(n, dtype=np.int64)
    for i in range(n):
        c = prompts.content[i, : prompts.length[i]]
        name = TASKS[prompts.task[i]]
        if name == "copy":
            t = c
        elif name == "reverse":
            t = c[::-1]
        elif name == "sort":
            t = np.sort(c)
        else:
            t = np.concatenate([c, c])
        out[i, : len(t)] = t
        lens[i] = len(t)
    return out, lens


def response_lengths(responses: np.ndarray) -> np.ndarray:
    """Tokens before the first EOS; a response without EOS counts all its slots. (n,) int64."""
    r = np.asarray(responses)
    if r.ndim != 2:
        raise ValueError(f"responses must be 2-D (n, L), got shape {r.shape}")
    is_eos = r == EOS
    has = is_eos.any(axis=1)
    first = np.argmax(is_eos, axis=1)
    return np.where(has, first, r.shape[1]).astype(np.int64)


def response_mask(responses: np.ndarray) -> np.ndarray:
    """Positions that belong to the response: up to and including the first EOS. (n, L) bool."""
    r = np.asarray(responses)
    is_eos = (r == EOS).astype(np.int64)
    before = np.cumsum(is_eos, axis=1) - is_eos
    return before == 0


def gold_reward(prompts: Prompts, responses: np.ndarray) -> np.ndarray:
    """Gold reward r*(x, y) ∈ [-(L - 1)·0.1, 1] for each response.

    r*(x, y) = (1/|t|) Σ_{i < |t|} 1[y_i = t_i] − 0.1 · max(0, |y| − |t|),

    where t is the task's correct output and |y| the number of tokens before EOS (a
    response that never emits EOS counts every slot, so it pays for all of them). This is
    the project reference's measured-feasibility reward: partial credit per matched target
    position, and length beyond the target is penalised, so the spurious feature's gold
    payoff turns negative once the target is covered.

    Parameters
    ----------
    prompts : Prompts (n)
    responses : np.ndarray (n, L) int64

    Returns
    -------
    np.ndarray (n,) float64
    """
    r = np.asarray(responses, dtype=np.int64)
    if r.ndim != 2 or r.shape[0] != len(prompts):
        raise ValueError(
            f"responses must have shape ({len(prompts)}, L) to match the prompts, got {r.shape}"
        )
    tgt, tlen = targets(prompts)
    _n, L = r.shape
    width = min(L, MAX_RESPONSE)
    ylen = response_lengths(r)
    pos = np.arange(width)[None, :]
    valid = (pos < tlen[:, None]) & (pos < ylen[:, None])
    match = (r[:, :width] == tgt[:, :width]) & valid
    credit = match.sum(axis=1) / tlen
    over = np.maximum(0, ylen - tlen)
    return credit - LENGTH_PENALTY * over


def spurious_feature(responses: np.ndarray) -> np.ndarray:
    """The spurious feature s(y): the response length in tokens (EOS excluded). (n,) float64."""
    return response_lengths(responses).astype(np.float64)


def pack_responses(
    seqs: list[list[int]] | list[np.ndarray], width: int = RESPONSE_LEN
) -> np.ndarray:
    """Pack token lists (without EOS) into an (n, width) array: tokens, EOS, then PAD."""
    out = np.full((len(seqs), width), PAD, dtype=np.int64)
    for i, seq in enumerate(seqs):
        toks = np.asarray(seq, dtype=np.int64).tolist()[: width - 1]
        out[i, : len(toks)] = toks
        out[i, len(toks)] = EOS
    return out


def expert_demonstrations(
    prompts: Prompts, rng: np.random.Generator, *, lazy_rate: float = 0.5, token_noise: float = 0.05
) -> np.ndarray:
    """Responses of a noisy expert with systematic errors.

    With probability ``lazy_rate`` the expert is lazy and stops after ⌈|t|/2⌉ tokens of the
    correct output t; every written token is then replaced by a uniform random letter with
    probability ``token_noise``. The project reference found that systematic (lazy) errors,
    not random token noise alone, are what leaves room for feedback to help.

    Returns
    -------
    np.ndarray (n, RESPONSE_LEN) int64
    """
    for name, v in (("lazy_rate", lazy_rate), ("token_noise", token_noise)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    tgt, tlen = targets(prompts)
    n = len(prompts)
    lazy = rng.random(n) < lazy_rate
    noise = rng.random((n, MAX_RESPONSE)) < token_noise
    random_letters = rng.integers(FIRST_LETTER, FIRST_LETTER + N_LETTERS, size=(n, MAX_RESPONSE))
    seqs = []
    for i in range(n):
        k = int(np.ceil(tlen[i] / 2)) if lazy[i] else int(tlen[i])
        y = np.where(noise[i, :k], random_letters[i, :k], tgt[i, :k])
        seqs.append(y.tolist())
    return pack_responses(seqs)


@dataclass(frozen=True)
class World:
    """All prompts of one seed, split with AlpacaFarm's ratios, plus the expert's outputs.

    Attributes
    ----------
    splits : dict[str, Prompts]
        ``sft``, ``preference``, ``unlabeled``, ``val``, ``eval``.
    demonstrations : np.ndarray (n_sft, RESPONSE_LEN)
        The noisy expert's responses to the SFT prompts.
    reference : np.ndarray (n_eval, RESPONSE_LEN)
        The fixed reference responses for evaluation: the same expert on the eval prompts
        (our analogue of AlpacaFarm's Davinci003 reference).
    """

    seed: int
    scale: float
    splits: dict[str, Prompts]
    demonstrations: np.ndarray
    reference: np.ndarray

    @classmethod
    def build(
        cls,
        seed: int = 0,
        scale: float = 0.1,
        *,
        lazy_rate: float = 0.5,
        token_noise: float = 0.05,
        min_eval: int = 0,
    ) -> World:
        """Draw every split of size round(scale · AlpacaFarm's size), deterministically."""
        if not 0.0 < scale <= 10.0:
            raise ValueError(f"scale must be in (0, 10], got {scale!r}")
        rng = np.random.default_rng([seed, 8])
        splits = {}
        for name, size in SPLIT_SIZES.items():
            n = max(1, round(size * scale))
            if name == "eval":
                n = max(n, min_eval)
            splits[name] = make_prompts(n, rng)
        demos = expert_demonstrations(
            splits["sft"], rng, lazy_rate=lazy_rate, token_noise=token_noise
        )
        ref = expert_demonstrations(
            splits["eval"], rng, lazy_rate=lazy_rate, token_noise=token_noise
        )
        return cls(seed, scale, splits, demos, ref)
