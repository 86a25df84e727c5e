"""The headline comparison at full settings; writes benchmarks/results/side_by_side.json and its figures.

    .venv/bin/python benchmarks/side_by_side.py [--seeds 5] [--budget 1e12]

Every racer runs with the settings benchmarks/tuning.py chose (labkit.studies.compare.METHOD_SETTINGS),
5 seeds, 1,000 held-out problems per evaluation (sampled and greedy), 14 evaluations spaced in
log-FLOPs. Every number comes from this run (seeded); the README quotes benchmarks/results/table.md.
"""

import argparse
import json
from pathlib import Path

from labkit.studies.compare import CompareConfig, compare_to_disk, format_table

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    args = p.parse_args()
    summary = compare_to_disk(RESULTS, CompareConfig(budget=args.budget, seeds=args.seeds), progress=False)
    print(format_table(summary))
    print(json.dumps({"wall_seconds": summary["wall_seconds"]}))
