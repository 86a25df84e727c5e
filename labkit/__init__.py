"""labkit: watch SFT, RL and on-policy distillation train side by side on tiny language models.

The core path, one file each, in the order a learner meets them:

    task        the addition world, its knobs and its verifier (and the Task interface other tasks follow)
    tokenizer   a character-level `transformers` fast tokenizer
    encoding    strings to token tensors and back
    models      teacher and student: Llama configs, HF-format load/save
    sampling    batched KV-cache sampling with per-token log-probs
    objectives  the losses and advantages, each beside its equation
    train       one training step for every method, and the loop around it
    flops       the compute ledger: teacher and student FLOPs counted apart
    evaluate    held-out accuracy
    pertoken    the teacher as a process reward model: a score for every token the student writes
    plots       the figures the notebooks share
    widgets     the token explorer
    exercises   write a method's core yourself; a checker names your mistake (solutions: labkit.solutions)

Studies that use the core (``labkit.studies``): compare, costs, drift, forgetting, wordproblems.
Tooling around it (``labkit.tools``): cli, build, checkpoint, fastdecode, notebook, run_notebooks.
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
