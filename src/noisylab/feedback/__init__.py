"""The preference world of AlpacaFarm at small scale: tasks with a gold reward, a simulated
annotator pool, a tiny policy LM, a reward model and the methods that learn from feedback.

>>> from noisylab.feedback import World
>>> w = World.build(seed=0, scale=0.01)
>>> sorted(w.splits)
['eval', 'preference', 'sft', 'unlabeled', 'val']
"""

from noisylab.feedback.annotators import Annotator, AnnotatorPool, Labels
from noisylab.feedback.bon import best_of_n, bon_brute_force, bon_estimate, bon_weights, kl_bound
from noisylab.feedback.dpo import DPO_LOSSES, dpo_loss, train_dpo
from noisylab.feedback.evaluate import (
    combine_seeds,
    evaluate_responses,
    kl_to_reference,
    mean_se,
    win_indicators,
)
from noisylab.feedback.expert_iteration import expert_iteration
from noisylab.feedback.policy import (
    GPTConfig,
    Policy,
    TinyGPT,
    TransformerPolicy,
    count_parameters,
    sample_batched,
    sequence_logprobs,
)
from noisylab.feedback.ppo import PPOConfig, PPOLog, gae, kl_estimate, ppo
from noisylab.feedback.quark import quantile_bins, quark, top_prompts
from noisylab.feedback.reward import (
    RewardModel,
    bradley_terry_loss,
    preference_accuracy,
    train_reward_model,
)
from noisylab.feedback.sft import feedme, positive_prompts, reward_conditioning, train_lm
from noisylab.feedback.world import (
    TASKS,
    VOCAB_SIZE,
    Prompts,
    World,
    expert_demonstrations,
    gold_reward,
    make_prompts,
    pack_responses,
    spurious_feature,
)

__all__ = [
    "DPO_LOSSES",
    "TASKS",
    "VOCAB_SIZE",
    "Annotator",
    "AnnotatorPool",
    "GPTConfig",
    "Labels",
    "PPOConfig",
    "PPOLog",
    "Policy",
    "Prompts",
    "RewardModel",
    "TinyGPT",
    "TransformerPolicy",
    "World",
    "best_of_n",
    "bon_brute_force",
    "bon_estimate",
    "bon_weights",
    "bradley_terry_loss",
    "combine_seeds",
    "count_parameters",
    "dpo_loss",
    "evaluate_responses",
    "expert_demonstrations",
    "expert_iteration",
    "feedme",
    "gae",
    "gold_reward",
    "kl_bound",
    "kl_estimate",
    "kl_to_reference",
    "make_prompts",
    "mean_se",
    "pack_responses",
    "positive_prompts",
    "ppo",
    "preference_accuracy",
    "quantile_bins",
    "quark",
    "reward_conditioning",
    "sample_batched",
    "sequence_logprobs",
    "spurious_feature",
    "top_prompts",
    "train_dpo",
    "train_lm",
    "train_reward_model",
    "win_indicators",
]
