"""labkit: watch SFT, RL and on-policy distillation train side by side on tiny language models.

The package has four rooms, and imports run one way (a test holds the rule):

    labkit/            the core: what every method computes (knows nothing of the rooms below)
    labkit/studies/    experiments built on the core: they compute and return data
    labkit/views/      figures, tables, widgets and notebook helpers drawn from what the studies return
    labkit/tools/      entry points: the command line, the model builder, the notebook runner

The core, one file each, in the order a learner meets them:

    task        the addition world, its knobs, its verifier and the one scratchpad parser (split_steps)
    tokenizer   a character-level `transformers` fast tokenizer
    encoding    strings to token tensors and back
    models      teacher and student: Llama configs, HF-format load/save, damaged-file checks, data_dir
    sampling    batched KV-cache sampling with per-token log-probs
    fastdecode  a lean incremental decode step for Llama/Qwen layouts (same tokens, less overhead)
    scoring     the log-probs of a rollout's tokens under student and teacher, with the vocabulary rule
    objectives  the losses and advantages, each beside its equation
    config      TrainConfig: a run's settings, checked, and the schedules that follow from them
    train       one training step for every method, and the loop around it
    flops       the compute ledger: teacher and student FLOPs counted apart
    evaluate    held-out accuracy on named held-out sets
    checkpoint  atomic, resumable checkpoints (files only: safetensors + JSON)
    errors      LabkitError: every bad input names the problem and the fix
    exercises   write a method's core yourself; a checker names your mistake
    solutions   the exercises' worked solutions (try the exercise first)
"""

from .errors import LabkitError
from .task import AdditionTask, Problem, Task, final_answer
from .tokenizer import build_tokenizer

__version__ = "0.1.0"

__all__ = [
    "AdditionTask",
    "LabkitError",
    "Problem",
    "build_tokenizer",
    "final_answer",
    "Task",
    "__version__",
]
