"""labkit: watch SFT, RL and on-policy distillation train side by side on tiny language models.

The package's parts, one file each:

    task        the addition world, its knobs and its verifier
    tokenizer   a character-level `transformers` fast tokenizer
    models      teacher and student: Llama configs, HF-format load/save
    sampling    batched KV-cache sampling with per-token log-probs
    objectives  the losses and advantages, each beside its equation
    train       one training loop for every method, with a compute ledger
    flops       the compute ledger
    evaluate    held-out accuracy
    notebook    helpers the notebooks share (recording results, Colab)
    cli         python -m labkit {eval,train,build-data}
"""

from .errors import LabkitError
from .task import AdditionTask, Problem, final_answer, reward
from .tokenizer import build_tokenizer

__version__ = "0.1.0"

__all__ = [
    "AdditionTask",
    "LabkitError",
    "Problem",
    "build_tokenizer",
    "final_answer",
    "reward",
    "__version__",
]
