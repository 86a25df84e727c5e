"""Does the 32K student's RL gain write right column steps, or only right answers?

    .venv/bin/python benchmarks/small_student_steps.py [--seeds 2] [--work outputs/sweep]

The verifier reads only the answer field, so "the small student gains only from RL" could be a student that
learned to write the right answer over wrong steps. This reruns the first `--seeds` RL runs of the small
student's tuned race (benchmarks/results/regime_tuning.json: the same settings, seeds and budget, so the same
runs), keeps the final weights, samples the 1,000 race problems as the race's last evaluation did, and judges
every column step (labkit.task.check_steps), beside the same numbers for the start. Writes
benchmarks/results/small_student_steps.json. Run alone on the machine.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from labkit.checkpoint import write_json_atomic
from labkit.evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from labkit.models import load
from labkit.studies.compare import CompareConfig, run_runs
from labkit.studies.regimes import regimes
from labkit.task import check_steps

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def judged(model, tokenizer, task) -> dict:
    """Answer accuracy and step correctness of one sampled pass over the race problems (the race's seed)."""
    problems = held_out_set(task, 1000, "race")
    result = evaluate(model, tokenizer, task, seed=EVAL_SETS["race"], temperature=1.0, problems=problems)
    answer = np.array(result.rewards, dtype=bool)
    steps = np.array([all(v is True for v in check_steps(p, c, task.digits))
                      for p, c in zip(problems, result.completions)])  # fmt: skip
    return {"answer_accuracy": float(answer.mean()), "all_steps_right": float(steps.mean()),
            "all_steps_right_among_right_answers": float(steps[answer].mean()) if answer.any() else None,
            "right_answer_over_a_wrong_step": float((answer & ~steps).mean())}  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / "outputs" / "sweep"))
    args = p.parse_args()
    race = json.loads((RESULTS / "regime_tuning.json").read_text())
    entry = race["regimes"]["small-student"]
    target = json.loads((RESULTS / "regimes_sweep.json").read_text())["start_target"]
    teacher, student, _, _ = regimes(Path(args.work), target)["small-student"]  # the map's folders
    student_path, teacher_path = str(student), str(teacher)
    config = CompareConfig(seeds=args.seeds, budget=race["budget"], methods=("rl",), snapshot_prompts=1,
                           settings={"rl": entry["chosen"]["rl"]})  # fmt: skip
    jobs = [("rl", seed, config, student_path, teacher_path, True) for seed in range(args.seeds)]
    outputs, _ = run_runs(jobs, config.workers, True)
    task = task_of(student_path)
    model, tokenizer = load(student_path)
    runs = {"start": judged(model, tokenizer, task)}
    race_curves = entry["summary"]["methods"]["rl"]["curves"]
    for seed, (_, _, state) in enumerate(outputs):
        model.load_state_dict(state)
        runs[f"rl seed {seed}"] = judged(model, tokenizer, task) | {
            "race_final_accuracy": race_curves[seed]["accuracy"][-1]
        }
    write_json_atomic(RESULTS / "small_student_steps.json", {"settings": entry["chosen"]["rl"], "runs": runs})
    print(json.dumps(runs, indent=1))
