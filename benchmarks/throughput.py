"""Throughput of the lab's hot paths, each against a plain `transformers` baseline in the same run.

    .venv/bin/python benchmarks/throughput.py [--device cpu] [--repeats 5]

Writes benchmarks/results/throughput.json:
  sampling_speedup_vs_hf_generate   labkit.sample (tokens + per-token log-probs) vs model.generate with
                                    output_scores + compute_transition_scores, same model, batch, length,
                                    temperature; sampling.*.labkit_transformers_forward_tokens_per_s is
                                    labkit.sample(fast=False), the same loop through transformers' forward
                                    (what labkit.fastdecode saves)
  train_step_speedup_vs_baseline    one labkit SFT update vs a plain forward(labels=...)/backward/AdamW step
  opd_step_breakdown                seconds of one on-policy distillation step by stage
  headline_wall_seconds             wall time of the committed side-by-side benchmark
                                    (benchmarks/results/side_by_side.json)
  headline_profile                  per method: runs, steps and charged seconds per run in that benchmark
and the machine it ran on. Timings are medians over repeats after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from labkit.checkpoint import write_json_atomic
from labkit.encoding import encode_prompts
from labkit.evaluate import task_of
from labkit.models import load
from labkit.sampling import SpecialTokens, sample
from labkit.train import TrainConfig, Trainer
from labkit.views.notebook import data_dir

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    torch.manual_seed(0)
    teacher, tokenizer = load(data_dir() / "teacher")
    student, _ = load(data_dir() / "student")
    task = task_of(data_dir() / "student")
    problems = task.problems(args.batch, "held_out", seed=0)
    prompts = encode_prompts(tokenizer, [p.prompt for p in problems])
    new_tokens = task.max_completion_length
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": "cpu",
        },
        "batch": args.batch,
        "max_new_tokens": new_tokens,
    }

    # sampling: fixed length (no early eos) so both paths generate exactly the same number of tokens
    sampling = {}
    for name, model in (("teacher", teacher), ("student", student)):

        def labkit_sample(model=model, fast=True):
            sample(
                model,
                prompts,
                new_tokens,
                SpecialTokens(eos_token_id=-1, pad_token_id=tokenizer.pad_token_id),
                temperature=1.0,
                generator=torch.Generator().manual_seed(0),
                fast=fast,
            )

        def hf_generate(model=model):
            with torch.no_grad():
                out = model.generate(
                    prompts,
                    attention_mask=torch.ones_like(prompts),
                    do_sample=True,
                    temperature=1.0,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    output_scores=True,
                    return_dict_in_generate=True,
                    pad_token_id=tokenizer.pad_token_id,
                )
                model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)

        ours, theirs = timed(labkit_sample, args.repeats), timed(hf_generate, args.repeats)
        slow = timed(lambda: labkit_sample(fast=False), args.repeats)
        tokens = args.batch * new_tokens
        sampling[name] = {
            "labkit_tokens_per_s": tokens / ours,
            "hf_generate_tokens_per_s": tokens / theirs,
            "labkit_transformers_forward_tokens_per_s": tokens / slow,
            "speedup": theirs / ours,
        }
    results["sampling"] = sampling
    results["sampling_speedup_vs_hf_generate"] = min(v["speedup"] for v in sampling.values())

    # training step: labkit's SFT update vs the plain transformers loop on the same sequences
    trainer = Trainer(
        TrainConfig(
            method="sft", sft_data="reference", batch_size=args.batch, group_size=1, learning_rate=1e-5
        ),
        student,
        tokenizer,
        task,
        progress=False,
    )
    batch = trainer.make_batch(1)
    labels = batch.sequences.clone()
    labels[:, : batch.prompt_length] = -100
    labels[:, batch.prompt_length :][batch.mask == 0] = -100
    baseline_opt = torch.optim.AdamW(student.parameters(), lr=1e-5)

    def labkit_step():
        loss, _ = trainer.loss(batch)
        trainer.update(loss)

    def plain_step():
        loss = student(input_ids=batch.sequences, labels=labels).loss
        baseline_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        baseline_opt.step()

    ours, theirs = timed(labkit_step, args.repeats), timed(plain_step, args.repeats)
    tokens = int(batch.sequences.numel())
    results["train_step"] = {"labkit_tokens_per_s": tokens / ours, "baseline_tokens_per_s": tokens / theirs}
    results["train_step_speedup_vs_baseline"] = theirs / ours

    # one OPD step, by stage
    opd = Trainer(
        TrainConfig(method="opd", batch_size=16, group_size=4),
        student,
        tokenizer,
        task,
        teacher=teacher,
        progress=False,
    )
    stages = {"student_sampling": [], "teacher_scoring": [], "update": []}
    for step in range(args.repeats + 1):
        problems = opd.prompts(step + 1)
        t0 = time.perf_counter()
        b = opd.student_samples(problems)
        t1 = time.perf_counter()
        opd.score_with_teacher(b)
        t2 = time.perf_counter()
        b.advantages = opd.opd_advantages(b)
        opd.update(opd.loss(b)[0])
        t3 = time.perf_counter()
        if step:  # skip the warm-up step
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2)):
                stages[key].append(value)
    results["opd_step_breakdown"] = {k: statistics.median(v) for k, v in stages.items()}

    side_by_side = RESULTS / "side_by_side.json"
    if side_by_side.exists():
        sbs = json.loads(side_by_side.read_text())
        results["headline_wall_seconds"] = sbs["wall_seconds"]
        results["headline_settings"] = {
            k: sbs["config"][k] for k in ("budget", "seeds", "eval_n", "eval_points")
        }
        results["headline_settings"]["workers"] = sbs["machine"].get("workers", 1)
        results["headline_profile"] = {
            method: {
                "runs": len(e["curves"]),
                "charged_seconds_per_run": statistics.mean(c["seconds"][-1] for c in e["curves"]),
                "episodes_per_run": statistics.mean(c["episodes"][-1] for c in e["curves"]),
            }
            for method, e in sbs["methods"].items()
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "throughput.json", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
