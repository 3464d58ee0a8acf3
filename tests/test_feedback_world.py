"""The preference world: tasks, gold reward on hand-made cases, the spurious feature, the expert."""

import numpy as np
import pytest

from noisylab.feedback import World, gold_reward, make_prompts, pack_responses, spurious_feature
from noisylab.feedback.world import (
    EOS,
    LETTERS,
    PAD,
    PROMPT_LEN,
    SEP,
    SPLIT_SIZES,
    TASK_TOKEN,
    Prompts,
    expert_demonstrations,
    response_lengths,
    response_mask,
    targets,
)

A, B, C, D = LETTERS[:4]


def prompt(task: str, content: list[int]) -> Prompts:
    k = len(content)
    tokens = np.full((1, PROMPT_LEN), PAD, dtype=np.int64)
    body = [TASK_TOKEN[task], *content, SEP]
    tokens[0, PROMPT_LEN - len(body) :] = body
    padded = np.full((1, 6), PAD, dtype=np.int64)
    padded[0, :k] = content
    from noisylab.feedback.world import TASKS

    return Prompts(tokens, np.array([TASKS.index(task)]), padded, np.array([k]))


@pytest.mark.parametrize(
    ("task", "content", "target"),
    [
        ("copy", [C, A, B], [C, A, B]),
        ("reverse", [C, A, B], [B, A, C]),
        ("sort", [C, A, B], [A, B, C]),
        ("twice", [C, A, B], [C, A, B, C, A, B]),
    ],
)
def test_targets_of_each_task(task, content, target):
    tgt, tlen = targets(prompt(task, content))
    assert tlen.tolist() == [len(target)]
    assert tgt[0, : len(target)].tolist() == target


def test_gold_reward_hand_made_cases():
    p = prompt("reverse", [C, A, B, D])  # target D B A C
    cases = {
        (D, B, A, C): 1.0,  # perfect
        (D, B): 0.5,  # lazy: half the positions
        (D, A, A, C): 0.75,  # one wrong token
        (D, B, A, C, A, A): 1.0 - 0.2,  # two extra tokens cost 0.1 each
        (): 0.0,
        (A, A, A, A, A, A, A, A): 0.25 - 0.4,  # one match at position 2, four extra
    }
    for resp, want in cases.items():
        got = gold_reward(p, pack_responses([list(resp)]))
        assert got[0] == pytest.approx(want), resp


def test_missing_eos_pays_for_every_slot():
    p = prompt("copy", [A, B, C])
    no_eos = np.full((1, 17), D, dtype=np.int64)
    no_eos[0, :3] = [A, B, C]
    assert response_lengths(no_eos)[0] == 17
    assert gold_reward(p, no_eos)[0] == pytest.approx(1.0 - 0.1 * 14)


def test_response_mask_includes_first_eos_only():
    r = np.array([[A, EOS, PAD, EOS], [A, B, C, D]])
    assert response_mask(r).tolist() == [[True, True, False, False], [True] * 4]
    assert spurious_feature(r).tolist() == [1.0, 4.0]


def test_expert_is_lazy_and_noisy_as_asked():
    rng = np.random.default_rng(0)
    ps = make_prompts(4000, rng)
    perfect = expert_demonstrations(ps, rng, lazy_rate=0.0, token_noise=0.0)
    assert np.allclose(gold_reward(ps, perfect), 1.0)
    lazy = expert_demonstrations(ps, rng, lazy_rate=1.0, token_noise=0.0)
    _, tlen = targets(ps)
    assert np.array_equal(response_lengths(lazy), np.ceil(tlen / 2).astype(int))
    mixed = expert_demonstrations(ps, rng, lazy_rate=0.5, token_noise=0.05)
    g, s = gold_reward(ps, mixed), spurious_feature(mixed)
    # the spurious feature (length) correlates with gold on the demonstrations
    assert np.corrcoef(g, s)[0, 1] > 0.3
    assert 0.6 < g.mean() < 0.85


def test_world_splits_follow_alpacafarm_ratios_and_are_deterministic():
    w = World.build(seed=3, scale=0.05)
    sizes = {k: len(v) for k, v in w.splits.items()}
    assert sizes == {k: round(v * 0.05) for k, v in SPLIT_SIZES.items()}
    assert sizes["unlabeled"] == 2 * sizes["sft"] == 2 * sizes["preference"]
    w2 = World.build(seed=3, scale=0.05)
    assert np.array_equal(w.demonstrations, w2.demonstrations)
    assert np.array_equal(w.splits["eval"].tokens, w2.splits["eval"].tokens)
    w3 = World.build(seed=4, scale=0.05)
    assert not np.array_equal(w.splits["eval"].tokens, w3.splits["eval"].tokens)


def test_bad_inputs_raise_value_errors():
    p = prompt("copy", [A, B, C])
    with pytest.raises(ValueError, match="shape"):
        gold_reward(p, np.zeros((2, 17), dtype=np.int64))
    with pytest.raises(ValueError, match="lazy_rate"):
        expert_demonstrations(p, np.random.default_rng(0), lazy_rate=1.5)
    with pytest.raises(ValueError, match="scale"):
        World.build(0, scale=0.0)
