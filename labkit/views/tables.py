"""The Markdown tables the benchmarks write beside their JSON, which docs and notebooks quote.

format_sweep    the map (benchmarks/results/regimes_sweep.md; docs/results.md), from regimes_sweep.json
direct_pairs    chosen pairs priced directly in many settings, sampled beside greedy (regimes_direct.md)
plateau_table   the post's regime under the post's accountings and the lab's (plateau.md), from plateau.json
recovery_table  recovery from a planted mistake (benchmarks/results/recovery.md; docs/results.md)
memory_table    the memory of notebook 07's pair by setup (notebook 07, from real_size.json)

Tests check each committed table is what its function makes of the committed JSON.
"""

from __future__ import annotations

from ..studies.compare import RACERS
from ..studies.costs import ACCOUNTINGS, describe, pair_ratio, rows_against
from ..studies.drift import MISTAKE_KINDS
from ..studies.regimes import in_map_order


def _cell(summary: dict, accounting: str, method: str) -> str:
    priced = pair_ratio(summary, accounting, method)
    if priced["ratio"] is None:
        start = max(c["accuracy"][0] for m in (method, "opd") for c in summary["methods"][m]["curves"])
        return "– (no common gain)" if priced["level"] <= start else "not reached"
    return describe(priced)


def format_sweep(results: dict) -> str:
    """The map table (docs/results.md): per regime and accounting, each racer's cost over OPD's at the level
    the pair reached; each regime names the protocol it was measured under."""
    names = in_map_order(results["regimes"])
    present = {m for entry in results["regimes"].values() for m in entry["summary"]["methods"]}
    racers = [m for m in RACERS if m in present and m != "opd"]
    used = sorted({results["regimes"][n]["protocol"] for n in names})
    lines = [
        *(f"Protocol {v}: {results['protocols'][v]}." for v in used),
        "",
        f"{results['budget']:.0e} FLOPs per run. Each cell: a racer's cost to reach a held-out accuracy "
        "(sampled) over OPD's cost to reach it (> 1: OPD is cheaper), at 90% of the way from the start to "
        "the highest accuracy every seed of both reached; costs interpolated between evaluations, medians "
        "over seeds, with the 95% bootstrap interval (bold where it excludes 1) or, where the results keep "
        "no per-problem outcomes (v1), the range over every pair of seeds.",
        "",
        "| regime | teacher entropy (nats/token) | start | counted as | "
        + " | ".join(f"{m} / opd" for m in racers)
        + " | final " + " / ".join([*racers, "opd"]) + " |",
        "|---|---|---|---|" + "---|" * len(racers) + "---|",
    ]  # fmt: skip
    for name in names:
        entry = results["regimes"][name]
        summary, final = entry["summary"], entry["final_accuracy"]
        seeds = len(summary["methods"]["opd"]["curves"])
        for k, accounting in enumerate(ACCOUNTINGS):
            head = ("", "", "")
            if k == 0:
                size = entry["student_parameters"] // 1000
                head = (f"{name} ({size}K student; {entry['protocol']}, {seeds} seeds)",
                        f"{entry['teacher_entropy_nats_per_token']:.3f}",
                        f"{entry['start_accuracy']:.1%}")  # fmt: skip
            cells = " | ".join(_cell(summary, accounting, m) if m in final else "–" for m in racers)
            tail = (
                " / ".join(f"{final[m]:.1%}" if m in final else "–" for m in [*racers, "opd"])
                if k == 0
                else ""
            )
            lines.append(f"| {' | '.join(head)} | {accounting} | {cells} | {tail} |")
    return "\n".join(lines) + "\n"


def _ratio_cell(entry: dict) -> str:
    low, high = entry["ci"]
    return "–" if entry["ratio"] is None else f"{entry['ratio']:.2f}× ({low:.2f}–{high:.2f})"


def _in_order(students: dict) -> list[tuple[str, dict]]:
    """The start, then the racers in race order (the JSON is written with sorted keys)."""
    return [(name, students[name]) for name in ("start", *RACERS) if name in students]


def recovery_table(results: dict) -> str:
    """Three tables of recovery.json (labkit.studies.recovery_runs): the next step after each kind of prefix,
    with recovery and compounding; compounding split by what the first mistake did to the carry; and the
    carry flip."""
    lines = [
        "| student | accuracy | problems | own prefix | planted | recovery (95%) | teacher's prefix "
        "| reference | compounding, raw | matched for difficulty (95%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in _in_order(results["students"]):
        s, (low, high) = r["next_step"], r["recovery_ci"]
        ratio = "–" if r["compounding_ratio"] is None else f"{r['compounding_ratio']:.1f}×"
        recovery = "–" if r["recovery"] is None else f"{r['recovery']:.2f} ({low:.2f}–{high:.2f})"
        lines.append(
            f"| {name} | {r['accuracy']:.1%} | {r['problems']} | {s['own']:.1%} | {s['planted']:.1%} "
            f"| {recovery} | {s['teacher']:.1%} | {s['reference']:.1%} | {ratio} "
            f"| {_ratio_cell(r['matched_compounding']['all'])} |"
        )
    lines += [
        "",
        "| student | "
        + " | ".join(f"after a first mistake: {k}" for k in MISTAKE_KINDS)
        + " | after a carry flip, the next step takes the carry as written |",
        "|---" * (2 + len(MISTAKE_KINDS)) + "|",
    ]
    for name, r in _in_order(results["students"]):
        parts = [r["matched_compounding"][k] for k in MISTAKE_KINDS]
        cells = [f"{_ratio_cell(p)}, {p['errors']:.0f} errors" for p in parts]
        total = r["carry_read"] + r["carry_recomputed"]
        read = f"{r['carry_read'] / total:.0%} of {total}" if total else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {read} |")
    lines += [
        "",
        "| student | problems | next step right after its own prefix | after the same prefix, carry dropped "
        "| ratio (95%) | takes the carry as written (0) | takes the true carry (1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in _in_order(results["students"]):
        f = r["carry_flip"]
        rates, (low, high) = f["rates"], f["ci"]
        ratio = "–" if f["ratio"] is None else f"{f['ratio']:.2f} ({low:.2f}–{high:.2f})"
        lines.append(
            f"| {name} | {f['problems']} | {rates['own']:.1%} | {rates['flipped']:.1%} | {ratio} "
            f"| {rates['takes_written']:.1%} | {rates['takes_true']:.1%} |"
        )
    return "\n".join(lines) + "\n"


def memory_table(analytic: dict) -> str:
    """The markdown table notebook 07 shows (tests check it matches benchmarks/results/real_size.json), from
    ``labkit.studies.realsize.analytic_memory()``."""
    lines = [
        "| setup | trained parameters | student weights | gradients | AdamW state | teacher | total |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in sorted(analytic["setups"].items(), key=lambda item: -item[1]["total_gib"]):
        cells = [
            r[k] for k in ("student_weights_gib", "gradients_gib", "adamw_state_gib", "teacher_weights_gib")
        ]
        gib = " | ".join(f"{v:.2f} GiB" for v in cells)
        lines.append(
            f"| {name} | {r['trainable_parameters'] / 1e6:,.0f}M | {gib} | **{r['total_gib']:.1f} GiB** |"
        )
    return "\n".join(lines) + "\n"


DIRECT_PAIRS = (("opd-exact", "rl"), ("opd", "rl"), ("sft", "rl"), ("sft", "opd"), ("opd-exact", "sft"))
"""the pairs every setting is priced on directly: the ladder's ends against RL, and SFT against both"""


def direct_pairs(
    settings: dict[str, list[dict]], pairs=DIRECT_PAIRS, accountings=("flops", "episodes")
) -> str:
    """A Markdown table: per setting (``{name: ratio rows}``, rows of ``compare.all_ratio_rows``) and pair,
    the cost ratio under each accounting, sampled and greedy side by side (bold where the interval excludes
    1); "–" where the pair was not priced (no common gain, or a seed never reached the level)."""
    head = " | ".join(f"{a}, {metric}" for a in accountings for metric in ("sampled", "greedy"))
    lines = [f"| setting | pair | {head} |", "|---|---|" + "---|" * (2 * len(accountings))]
    for name, rows in settings.items():
        for method, baseline in pairs:
            cells = []
            for accounting in accountings:
                for metric in ("sampled", "greedy"):
                    mine = rows_against(rows, baseline, metric)
                    row = next(
                        (r for r in mine if (r["method"], r["accounting"]) == (method, accounting)), None
                    )
                    cells.append("–" if row is None else describe(row))
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | {method} / {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


REGIME_TUNING_PAIRS = (
    ("opd", "rl"),
    ("opd-exact", "rl"),
    ("sft", "rl"),
    ("sft", "opd"),
    ("opd-exact", "opd"),
)


def regime_tuning_table(results: dict) -> str:
    """benchmarks/results/regime_tuning.md (docs/results.md), from regime_tuning.json: per regime, the
    settings each racer chose there and the direct prices at the shipped and at the regime's own settings."""
    lines = []
    for name, entry in results["regimes"].items():
        shipped = entry["shipped_settings"]
        head = f"**{name}** ({entry['what']}; {entry['seeds']} seeds, {results['budget']:.0e} FLOPs a run)"
        lines += [head,
                  "", "| racer | shipped settings | tuned here | final sampled, shipped → tuned |",
                  "|---|---|---|---|"]  # fmt: skip
        for racer in [r for r in RACERS if r in entry["chosen"]]:  # race order (the JSON sorts its keys)
            chosen = entry["chosen"][racer]
            old = shipped["settings"].get(racer, {})
            finals = f"{shipped['final_accuracy'][racer]:.1%} → {entry['final_accuracy'][racer]:.1%}"
            lines.append(f"| {racer} | lr {old.get('learning_rate')}, {old.get('batch_size')} prompts | "
                         f"lr {chosen['learning_rate']}, {chosen['batch_size']} prompts | "
                         f"{finals} |")  # fmt: skip
        settings = {"shipped settings": shipped["direct"], "tuned here": entry["direct"]}
        lines += ["", direct_pairs(settings, pairs=REGIME_TUNING_PAIRS), ""]
    return "\n".join(lines)


PLATEAU_PAIRS = (
    ("sft", "opd"),
    ("sft", "opd-exact"),
    ("sft", "opd-topk"),
    ("rl", "opd"),
    ("opd-exact", "rl"),
    ("sft", "rl"),
)
PLATEAU_ACCOUNTINGS = ("post_9x", "post_30x", "flops", "episodes")


def plateau_table(results: dict) -> str:
    """The post's regime (benchmarks/results/plateau.md; docs/results.md), from plateau.json: per level and
    pair, the cost ratio under the post's two accountings and two of the lab's, with its interval; "(fit)"
    marks SFT's cost read off the log-linear extrapolation, "finished SFT" read between finished SFT models
    (with an interval where SFT has several seeds), "–" a pair not priced at that level."""
    lines = ["| level | pair | " + " | ".join(PLATEAU_ACCOUNTINGS) + " |",
             "|---|---|" + "---|" * len(PLATEAU_ACCOUNTINGS)]  # fmt: skip
    for name, level in results["levels"].items():
        for method, baseline in PLATEAU_PAIRS:
            cells = []
            for accounting in PLATEAU_ACCOUNTINGS:
                row = next((r for r in results["ratios"] if (r["method"], r["baseline"], r["accounting"],
                            r["level_name"]) == (method, baseline, accounting, name)), None)  # fmt: skip
                if row is None or row["ratio"] is None:
                    cells.append("–")
                elif row["extrapolated"]:
                    cells.append(f"{row['ratio']:.2f}× (fit)")
                elif row.get("interpolated") and row.get("ci"):
                    cells.append(f"{describe(row)}, finished SFT ({row['sft_seeds']} seeds)")
                elif row.get("interpolated"):
                    cells.append(f"{row['ratio']:.2f}× (finished SFT)")
                else:
                    cells.append(describe(row))
            if any(c != "–" for c in cells):
                lines.append(f"| {name} ({level:.1%}) | {method} / {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gradient_table(quality: dict, estimators=("opd", "opd-topk", "opd-exact", "rl")) -> str:
    """A Markdown table of each estimator's per-batch gradient against the exact reverse-KL gradient
    (side_by_side.json ``gradient_quality``): mean cosine and signal-to-noise, at the start and mid-run."""
    lines = [
        "| estimator | cosine, start | SNR, start | cosine, mid-run | SNR, mid-run |",
        "|---|---|---|---|---|",
    ]
    for name in estimators:
        start, mid = quality["start"][name], quality["mid"][name]
        cells = [start["cosine"], start["snr"], mid["cosine"], mid["snr"]]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    return "\n".join(lines)


def clinic_table(rows: list[dict]) -> str:
    """A Markdown table of the pitfalls clinic (``labkit.studies.pitfalls.clinic`` rows): per run, accuracy,
    teacher_kl and entropy from start to end, the first step's mean advantage and |log ratio|, the teacher's
    gradient, how far the student's weights moved, and the charged milliseconds per step."""
    lines = [
        "| run | accuracy | teacher_kl | entropy | first advantage | first mean abs log ratio | teacher grad "
        "| weight change | ms per step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        (a0, a1), (k0, k1), (e0, e1) = r["accuracy"], r["teacher_kl"], r["entropy"]
        cells = [f"{a0:.1%} → {a1:.1%}", f"{k0:.3f} → {k1:.3f}", f"{e0:.3f} → {e1:.3f}"]
        cells += [f"{r['first_advantage']:+.3f}", f"{r['first_abs_log_ratio']:.4f}"]
        cells += [
            f"{r['teacher_grad']:.2g}",
            f"{r['weight_change']:.2e}",
            f"{1000 * r['seconds_per_step']:.0f}",
        ]
        lines.append(f"| {r['pitfall']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
