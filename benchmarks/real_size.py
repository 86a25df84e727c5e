"""Notebook 07's real-size path, proven without a download: random weights in the real configs of its pair.

    .venv/bin/python benchmarks/real_size.py                     # build, then every option (see --help)
    .venv/bin/python benchmarks/real_size.py --scale 0.05 --steps 1 --out /tmp/real_size.json   # a smoke test
    .venv/bin/python benchmarks/real_size.py --analytic-only     # the memory table alone, in a second

The configs are those of the hub's config.json of notebook 07's default pair, Qwen/Qwen3-0.6B-Base (student)
and Qwen/Qwen3-1.7B (teacher), copied into ``CONFIGS`` below (checked against public copies of both files);
no weights come from a hub. No tokenizer can be downloaded either: ``build_tokenizer`` makes a local
word-level one that splits text with the pre-tokenizer pattern of Qwen2/Qwen3's tokenizer (a word with its
leading space, single digits), so a word problem is about as many tokens as with Qwen's BPE (~25 for a
prompt), padded with unused tokens to Qwen3's 151,669 below the models' 151,936 output rows (the padded
output layer 07's compatibility check handles). ``--scale`` shrinks layers, widths and the vocabulary.

1. build: both models with random weights, stored in bfloat16 like the hub's checkpoints, and the tokenizer,
   saved as HF folders under ``--models`` (outputs/real_size/, ignored by git; skipped when present).
2. measure: for each option in ``--options`` a fresh process runs 07's cells on the CPU: ``load`` of both
   models (float32 student; the teacher in its option's dtype), ``check_compatible``,
   ``labkit.models.prepare_student``, the per-token view (``sample`` one answer, ``score_tokens``), then
   ``Trainer.train_step`` with 07's ``TrainConfig`` (``opd``, 1 prompt x 4 samples, 48 new tokens) for
   ``--steps`` steps, timing each phase of each step (sampling, teacher scoring, the student's forward pass
   and loss, the uncharged monitor, backward + AdamW) and reading the process's peak resident memory
   (``ru_maxrss``) after each; with ``--eval-n`` also 07's ``evaluate`` of student and teacher.
3. analytic: bytes of weights, gradients, AdamW state and teacher for each setup, from the configs (exact
   parameter counts of the models built on the meta device): the table notebook 07 quotes.

Writes benchmarks/results/real_size.json and prints the memory table. Everything it measures is
labkit.studies.realsize; the table, labkit.views.tables.memory_table; this script runs each option in a
process of its own (``--build`` and ``--measure`` are those processes' internal flags).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.realsize import (
    CONFIGS,
    GROUP_SIZE,
    NEW_TOKENS,
    OPTIONS,
    TOKENIZER_SIZE,
    analytic_memory,
    build,
    measure,
)
from labkit.studies.workers import machine
from labkit.views.tables import memory_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--scale", type=float, default=1.0, help="shrink layers, widths and vocabulary (e.g. 0.05)"
    )
    p.add_argument("--steps", type=int, default=2, help="OPD steps per option (the first includes warm-up)")
    p.add_argument("--options", default=",".join(OPTIONS), help=f"comma-separated, of: {', '.join(OPTIONS)}")
    p.add_argument("--eval-n", type=int, default=0, help="also time 07's evaluate on this many problems")
    p.add_argument("--models", default=str(ROOT / "outputs" / "real_size"), help="where the models are built")
    p.add_argument("--out", default=str(RESULTS / "real_size.json"))
    p.add_argument("--analytic-only", action="store_true", help="write the analytic memory alone")
    p.add_argument("--measure", choices=OPTIONS, help=argparse.SUPPRESS)  # internal: one option, one process
    p.add_argument("--build", action="store_true", help=argparse.SUPPRESS)  # internal: build, one process
    return p.parse_args(argv)


def run_child(args, *extra: str) -> str:
    """This script in a fresh process (its peak memory is its own); what it printed."""
    command = [sys.executable, __file__, "--scale", str(args.scale), "--models", args.models, *extra]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def main(argv=None) -> dict:
    args = parse_args(argv)
    folder = Path(args.models) / f"scale-{args.scale:g}"
    if args.build:
        return build(folder, args.scale)
    if args.measure:
        print(json.dumps(measure(folder, args.measure, args.steps, args.eval_n)))
        return {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(memory=True), "configs": CONFIGS, "tokenizer_size": TOKENIZER_SIZE,
               "analytic_memory": analytic_memory()}  # fmt: skip
    if not args.analytic_only:
        options = args.options.split(",")
        if unknown := set(options) - set(OPTIONS):
            raise SystemExit(f"unknown options {sorted(unknown)}; choose from {', '.join(OPTIONS)}")
        if not (folder / "teacher" / "config.json").exists():
            start = time.perf_counter()
            run_child(args, "--build")
            print(f"built the models in {folder} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        shape = {"batch_size": 1, "group_size": GROUP_SIZE, "max_new_tokens": NEW_TOKENS}
        results["settings"] = {"scale": args.scale, "steps": args.steps, "eval_n": args.eval_n, **shape}
        previous = json.loads(out.read_text()) if out.exists() else {}  # options not rerun keep their rows
        same = previous.get("settings") == results["settings"]
        results["measured"] = dict(previous.get("measured", {})) if same else {}
        for option in options:
            extra = ("--measure", option, "--steps", str(args.steps), "--eval-n", str(args.eval_n))
            try:
                row = json.loads(run_child(args, *extra).strip().splitlines()[-1])
                print(f"{option}: peak {row['peak_gib']['process']:.2f} GiB", file=sys.stderr)
            except subprocess.CalledProcessError as exc:  # e.g. killed for memory (exit -9): keep the rest
                row = {"option": option, "failed": f"exit status {exc.returncode}"}
                print(f"{option}: failed ({row['failed']})", file=sys.stderr)
            results["measured"][option] = row
            write_json_atomic(out, results)  # what is measured so far survives a later failure
    write_json_atomic(out, results)
    print(memory_table(results["analytic_memory"]))
    return results


if __name__ == "__main__":
    main()
