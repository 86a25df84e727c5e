"""The headline comparison at full settings; writes benchmarks/results/side_by_side.json and its figures.

    .venv/bin/python benchmarks/side_by_side.py [--seeds 5] [--budget 1e12]

`--reprice` recomputes only the ratios and the table from the committed JSON. Every racer runs with the
settings benchmarks/tuning.py chose (labkit.studies.compare.METHOD_SETTINGS),
5 seeds, 1,000 held-out problems per evaluation (sampled and greedy), 14 evaluations spaced in
log-FLOPs. Every number comes from this run (seeded); docs/results.md quotes benchmarks/results/table.md.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.studies.compare import CompareConfig, ratio_rows
from labkit.views.race import compare_to_disk, format_table

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument(
        "--reprice",
        action="store_true",
        help="no runs: recompute the ratios and table.md from the committed side_by_side.json "
        "(after a change to how costs are priced)",
    )
    args = p.parse_args()
    if args.reprice:
        summary = json.loads((RESULTS / "side_by_side.json").read_text())
        summary["ratios"] = ratio_rows(summary)
        write_json_atomic(RESULTS / "side_by_side.json", summary)
        write_text_atomic(RESULTS / "table.md", format_table(summary) + "\n")
    else:
        summary = compare_to_disk(
            RESULTS, CompareConfig(budget=args.budget, seeds=args.seeds), progress=False
        )
    print(format_table(summary))
    print(json.dumps({"wall_seconds": summary["wall_seconds"]}))
