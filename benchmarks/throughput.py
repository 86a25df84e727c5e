"""Throughput of the lab's hot paths, each against a plain `transformers` baseline in the same run.

    .venv/bin/python benchmarks/throughput.py [--repeats 5] [--batch 64]

Writes benchmarks/results/throughput.json:
  sampling_speedup_vs_hf_generate   labkit.sample (tokens + per-token log-probs) vs model.generate with
                                    output_scores + compute_transition_scores, same model, batch, length,
                                    temperature; sampling.*.labkit_transformers_forward_tokens_per_s is
                                    labkit.sample(fast=False), the same loop through transformers' forward
                                    (what labkit.fastdecode saves)
  train_step_speedup_vs_baseline    one labkit SFT update vs a plain forward(labels=...)/backward/AdamW step
  opd_step_breakdown                seconds of one on-policy distillation step by stage
  peak_gflops                       this machine's fp32 matmul GFLOP/s on 1 and on all threads
  phases                            per phase (student sampling, teacher sampling, teacher scoring, update,
                                    evaluation): seconds, ledger FLOPs, GFLOP/s and fraction_of_peak
  headline_wall_seconds             wall time of the committed side-by-side benchmark
                                    (benchmarks/results/side_by_side.json)
  headline_profile                  per method: runs, steps and charged seconds per run in that benchmark
and the machine it ran on. Timings are medians over repeats after one warm-up. The timings are
labkit.studies.throughput's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from labkit.checkpoint import write_json_atomic
from labkit.evaluate import task_of
from labkit.models import data_dir, load
from labkit.studies.throughput import headline_profile, measure
from labkit.studies.workers import machine

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    torch.manual_seed(0)
    teacher, tokenizer = load(data_dir() / "teacher")
    student, _ = load(data_dir() / "student")
    task = task_of(data_dir() / "student")
    results = {"machine": machine(), **measure(teacher, student, tokenizer, task, args.batch, args.repeats)}
    side_by_side = RESULTS / "side_by_side.json"
    if side_by_side.exists():
        results |= headline_profile(json.loads(side_by_side.read_text()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "throughput.json", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
