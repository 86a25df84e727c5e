"""SFT, RL and OPD raced with a teacher ~10x the student and with a teacher of the student's own size.

    .venv/bin/python benchmarks/teacher_size.py [--seeds 3] [--budget 1e12]

Writes benchmarks/results/teacher_size.json: per teacher, the comparison summary and the cost ratios to OPD under each
accounting (labkit.regimes). Notebook 08 runs the same races at small settings.
"""
import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.compare import CompareConfig, run_comparison, summarize
from labkit.notebook import data_dir
from labkit.regimes import cost_ratios

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    args = p.parse_args()
    config = CompareConfig(methods=("sft", "rl", "opd"), seeds=args.seeds, budget=args.budget, snapshot_prompts=1)
    out = {}
    for label, teacher in (("teacher_10x", data_dir() / "teacher"), ("teacher_same_size", data_dir() / "teacher-small")):
        summary = summarize(run_comparison(config, teacher_path=teacher, progress=False))
        out[label] = {"summary": summary, "ratios_to_opd": cost_ratios(summary)}
        print(label, json.dumps(out[label]["ratios_to_opd"]))
    write_json_atomic(RESULTS / "teacher_size.json", out)
