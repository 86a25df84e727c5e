"""Forgetting and recovery in miniature (notebook 06): a skill, new knowledge, and distillation from
one's past self.

* skill A   -- the addition task the model already has;
* knowledge B -- ``FactsTask``: arbitrary facts to memorise, ``123!123=`` -> ``845``,
  one secret value per key;
* ``MixedTask`` -- mid-training data that mixes B with a fraction of A's reference solutions.

Fact prompts have the same length as addition prompts, so A and B share batches.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from functools import cached_property

from ..task import AdditionTask


@dataclass(frozen=True)
class Fact:
    prompt: str
    value: str
    key: int


@dataclass(frozen=True)
class FactsTask:
    """``n_facts`` secret key -> value pairs;
    'held_out' is the same set (knowledge is recall of what was taught)."""

    n_facts: int = 256
    """how many facts to memorise"""
    digits: int = 3
    """digits of keys and values (prompts then match AdditionTask(digits) in length)"""
    seed: int = 0
    """which secret table"""
    max_completion_length: int = 8
    """longest answer a model may write"""

    @cached_property
    def table(self) -> list[Fact]:
        rng = random.Random(f"facts-{self.seed}-{self.digits}")
        keys = rng.sample(range(10**self.digits), self.n_facts)
        return [
            Fact(
                f"{k:0{self.digits}d}!{k:0{self.digits}d}=",
                f"{rng.randrange(10**self.digits):0{self.digits}d}",
                k,
            )
            for k in keys
        ]

    def problems(self, n: int, split: str = "train", seed: int = 0) -> list[Fact]:
        if split == "all":
            return self.table[:n]
        rng = random.Random(f"facts-draw-{seed}-{split}")
        table = self.table
        return [table[rng.randrange(len(table))] for _ in range(n)]

    def solution(self, fact: Fact, rng: random.Random | None = None) -> tuple[str, list[int]]:
        return fact.value, [1] * len(fact.value)

    def reward(self, fact: Fact, completion: str) -> float:
        return 1.0 if completion.strip() == fact.value else 0.0


@dataclass(frozen=True)
class MixedTask:
    """Each problem drawn from ``knowledge`` with probability ``knowledge_fraction``, else from ``skill``."""

    skill: AdditionTask = field(default_factory=AdditionTask)
    knowledge: FactsTask = field(default_factory=FactsTask)
    knowledge_fraction: float = 0.7
    """share of mid-training examples that are new knowledge (the post: 100% or 70%)"""

    @property
    def max_completion_length(self) -> int:
        return max(self.skill.max_completion_length, self.knowledge.max_completion_length)

    def problems(self, n: int, split: str = "train", seed: int = 0):
        rng = random.Random(f"mixed-{seed}-{split}")
        n_facts = sum(rng.random() < self.knowledge_fraction for _ in range(n))
        facts = self.knowledge.problems(n_facts, split, seed) if n_facts else []
        sums = self.skill.problems(n - n_facts, split, seed) if n - n_facts else []
        mixed = facts + sums
        rng.shuffle(mixed)
        return mixed

    def _owner(self, problem):
        return self.knowledge if isinstance(problem, Fact) else self.skill

    def solution(self, problem, rng: random.Random | None = None):
        return self._owner(problem).solution(problem, rng)

    def reward(self, problem, completion: str) -> float:
        return self._owner(problem).reward(problem, completion)


@dataclass
class ForgettingResult:
    rows: list[dict]  # one per stage: {"stage", "knowledge", "skill"}
    histories: dict[str, list[dict]]

    def table(self) -> str:
        lines = ["| model | knowledge (facts recalled) | skill (addition, sampled) |", "|---|---|---|"]
        lines += [f"| {r['stage']} | {r['knowledge']:.1%} | {r['skill']:.1%} |" for r in self.rows]
        return "\n".join(lines)


def measure(model, tokenizer, skill: AdditionTask, knowledge: FactsTask, n_skill: int, seed: int = 0) -> dict:
    """knowledge: greedy recall of every fact; skill: sampled (T=1) accuracy on held-out additions."""
    from ..evaluate import evaluate

    facts = knowledge.table
    recalled = evaluate(
        model, tokenizer, _Recall(knowledge), n=len(facts), temperature=0.0, seed=seed
    ).accuracy
    return {
        "knowledge": recalled,
        "skill": evaluate(model, tokenizer, skill, n=n_skill, temperature=1.0, seed=seed).accuracy,
    }


@dataclass(frozen=True)
class _Recall:
    """Evaluation view of a FactsTask: every fact exactly once, in table order."""

    knowledge: FactsTask

    @property
    def max_completion_length(self) -> int:
        return self.knowledge.max_completion_length

    def problems(self, n: int, split: str = "held_out", seed: int = 0):
        return self.knowledge.table[:n]

    def reward(self, fact, completion: str) -> float:
        return self.knowledge.reward(fact, completion)


def midtrain(model, tokenizer, task, steps: int, seed: int, learning_rate: float, progress: bool):
    """SFT on the task's reference solutions (new facts, skill data or a mix): mid-training, as
    the post calls it."""
    from ..train import TrainConfig, train

    config = TrainConfig(
        method="sft", sft_data="reference", steps=steps, seed=seed, learning_rate=learning_rate,
        warmup_steps=max(1, steps // 10), batch_size=64, group_size=1, eval_n=32, monitor_size=8,
    )  # fmt: skip
    return train(config, model, tokenizer, task, progress=progress).history


def forgetting_experiment(
    model,
    tokenizer,
    skill: AdditionTask,
    knowledge: FactsTask,
    midtrain_steps: int,
    distill_steps: int,
    n_skill: int = 256,
    seed: int = 0,
    midtrain_lr: float = 1e-3,
    distill_lr: float = 3e-4,
    knowledge_fraction: float = 0.7,
    recovery_method: str = "opd",
    progress: bool = True,
) -> ForgettingResult:
    """The post's personalization table in miniature.

    1. the model as it is; 2. mid-trained on 100% new knowledge; 3. mid-trained on a mix
    (``knowledge_fraction`` knowledge, the rest skill data; the post: 70%); 4. model 3 after
    ``recovery_method`` on the skill's prompts — on-policy distillation with model 1 (its earlier self)
    as teacher, or any other method of the lab (e.g. "rl").
    """
    from ..train import TrainConfig, train

    original = copy.deepcopy(model).eval()
    rows = [{"stage": "start", **measure(original, tokenizer, skill, knowledge, n_skill, seed)}]
    histories, mixed = {}, None
    mix_label = f"mid-train, {knowledge_fraction:.0%} knowledge / {1 - knowledge_fraction:.0%} skill"
    for label, fraction in (("mid-train, 100% knowledge", 1.0), (mix_label, knowledge_fraction)):
        mixed = copy.deepcopy(original)
        task = MixedTask(skill, knowledge, fraction)
        histories[label] = midtrain(mixed, tokenizer, task, midtrain_steps, seed, midtrain_lr, progress)
        rows.append({"stage": label, **measure(mixed, tokenizer, skill, knowledge, n_skill, seed)})
    config = TrainConfig(method=recovery_method, steps=distill_steps, seed=seed, learning_rate=distill_lr,
                         warmup_steps=5, batch_size=16, group_size=4, eval_n=32)  # fmt: skip
    histories["recovery"] = train(
        config, mixed, tokenizer, skill, teacher=original, progress=progress
    ).history
    stage = f"mid-train ({knowledge_fraction:.0%}) + {recovery_method} with the start model as teacher"
    rows.append({"stage": stage, **measure(mixed, tokenizer, skill, knowledge, n_skill, seed)})
    return ForgettingResult(rows, histories)
