"""labkit's on-policy distillation step against TRL's DistillationTrainer on identical work, in one run.

    .venv/bin/pip install -e ".[bench]"   # trl and peft; the lab itself never needs them
    .venv/bin/python benchmarks/vs_trl.py [--steps 20] [--warmup 3] [--batch-size 16] [--group-size 4]
    .venv/bin/python benchmarks/vs_trl.py --labkit-only --steps 1 --warmup 1   # a smoke test, without TRL

Both trainers take the same steps on the same prompts, alternating step by step inside TRL's own loop; what
"identical work" means, and how each step is timed, is in labkit.studies.vs_trl, which does the work.

Writes benchmarks/results/vs_trl.json: seconds per step (median and every step) of each trainer, sampled
tokens per step, TRL's settings as used, the machine, and ``speedup_vs_trl_distillation`` (TRL's median /
labkit's).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.errors import LabkitError
from labkit.studies.vs_trl import Settings, run

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    d = Settings()  # the defaults
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--steps", type=int, default=d.steps, help="timed steps of each trainer (after the warm-up)"
    )
    p.add_argument(
        "--warmup", type=int, default=d.warmup, help="steps of each trainer run first and not timed"
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="prompts per step")
    p.add_argument("--group-size", type=int, default=d.group_size, help="samples per prompt")
    p.add_argument(
        "--max-new-tokens", type=int, default=d.max_new_tokens, help="tokens per sample (0: the task's bound)"
    )
    p.add_argument("--student", default=d.student, help="student folder (HF format)")
    p.add_argument("--teacher", default=d.teacher, help="teacher folder (HF format)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0: torch's default here)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--labkit-only", action="store_true", help="time labkit alone (no TRL): a smoke test")
    p.add_argument("--out", default=str(RESULTS / "vs_trl.json"))
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    settings = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    results = run(settings, labkit_only=args.labkit_only)  # without TRL: exits here, naming the extra
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, results)
    speedups = {k: v for k, v in results.items() if k.startswith("speedup")}
    print(json.dumps(speedups or results["labkit_only"], indent=2))
    return results


if __name__ == "__main__":
    try:
        main()
    except LabkitError as exc:  # e.g. TRL not installed: one line naming the extra, no traceback
        raise SystemExit(f"vs_trl.py: error: {exc}") from None
