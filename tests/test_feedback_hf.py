"""The Hugging Face adapter with a randomly initialised tiny GPT-2 and a local tokenizer."""

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers", reason="needs the hf extra")

from noisylab.feedback import Policy, make_prompts, train_lm  # noqa: E402
from noisylab.feedback.hf import HFPolicy  # noqa: E402
from noisylab.feedback.world import CONTROL_TOKENS, EOS, NEG, PAD, POS, TOKEN_NAMES  # noqa: E402


def tiny_gpt2(extra_tokens: int = 3):
    from tokenizers import Tokenizer, models

    vocab = {f"[extra{i}]": i for i in range(extra_tokens)}  # world ids != HF ids
    for name in TOKEN_NAMES:
        vocab[name] = len(vocab)
    vocab["[UNK]"] = len(vocab)
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]")),
        unk_token="[UNK]",
    )
    cfg = transformers.GPT2Config(
        vocab_size=len(vocab), n_positions=32, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=0, eos_token_id=vocab["<eos>"], resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(cfg), tok


def test_hf_adapter_samples_scores_and_trains():
    model, tok = tiny_gpt2()
    pi = HFPolicy(model, tok)
    assert isinstance(pi, Policy)
    x = torch.as_tensor(make_prompts(6, np.random.default_rng(0)).tokens)
    y = pi.sample(x, generator=torch.Generator().manual_seed(1))
    y2 = pi.sample(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(y, y2)
    for row in y.tolist():
        body = row[: row.index(EOS)] if EOS in row else row
        assert not {PAD, POS, NEG} & set(body)

    # log-probabilities against the model's own logits, restricted to the world tokens
    with torch.no_grad():
        lp = pi.logprobs(x, y)
        ids = torch.tensor(tok.convert_tokens_to_ids(list(TOKEN_NAMES)))
        for b in range(2):
            seq = ids[x[b]].tolist()
            for t, w in enumerate(y[b].tolist()):
                z = model(input_ids=torch.tensor([seq])).logits[0, -1, ids].clone()
                z[[PAD, *CONTROL_TOKENS]] = float("-inf")
                assert torch.allclose(lp[b, t], torch.log_softmax(z, -1)[w], atol=1e-5)
                seq.append(int(ids[w]))
                if w == EOS:
                    break

    # the shared SFT loop trains it
    before = -pi.logprobs(x, y).sum().item()
    train_lm(pi, x, y, steps=15, batch_size=6, lr=1e-2)
    assert -pi.logprobs(x, y).sum().item() < before


def test_hf_adapter_rejects_a_tokenizer_without_the_world_tokens():
    from tokenizers import Tokenizer, models

    vocab = {"[UNK]": 0, "a": 1}
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]")),
        unk_token="[UNK]",
    )
    model, _ = tiny_gpt2()
    with pytest.raises(ValueError, match="lacks the world tokens"):
        HFPolicy(model, tok)
