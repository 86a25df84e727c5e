"""Throughput of the lab's hot paths, each against a plain `transformers` baseline in the same run
(benchmarks/throughput.py writes it to benchmarks/results/throughput.json; docs/speed.md quotes it).

``measure`` times, in this order (each later measurement runs on the student the earlier ones updated):
labkit's sampler against ``model.generate`` with per-token scores, for teacher and student; one labkit SFT
update against a plain forward(labels=...)/backward/AdamW step; this machine's matmul peak; and each phase of
a step (OPD's sampling, scoring and update, SFT's teacher sampling, an evaluation) against it. Timings are
medians over repeats after one warm-up. ``headline_profile`` reads the side-by-side benchmark's results.
"""

from __future__ import annotations

import functools
import statistics
import time

import torch

from ..encoding import encode_prompts
from ..sampling import SpecialTokens, sample
from ..train import TrainConfig, Trainer


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sampling_speed(models: dict, tokenizer, prompts, new_tokens: int, repeats: int) -> dict:
    """Per model: labkit.sample (tokens + per-token log-probs) against model.generate with output_scores +
    compute_transition_scores, same batch, length and temperature; and labkit.sample(fast=False), the same
    loop through transformers' forward (what labkit.fastdecode saves). Fixed length (no early eos), so both
    paths generate exactly the same number of tokens."""
    sampling = {}
    for name, model in models.items():

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

        ours, theirs = timed(labkit_sample, repeats), timed(hf_generate, repeats)
        slow = timed(lambda: labkit_sample(fast=False), repeats)
        tokens = prompts.shape[0] * new_tokens
        sampling[name] = {
            "labkit_tokens_per_s": tokens / ours,
            "hf_generate_tokens_per_s": tokens / theirs,
            "labkit_transformers_forward_tokens_per_s": tokens / slow,
            "speedup": theirs / ours,
        }
    return sampling


def train_step_speed(student, tokenizer, task, batch_size: int, repeats: int) -> dict:
    """labkit's SFT update against the plain transformers loop on the same sequences: tokens per second of
    each, and the speedup."""
    trainer = Trainer(
        TrainConfig(
            method="sft", sft_data="reference", batch_size=batch_size, group_size=1, learning_rate=1e-5
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

    ours, theirs = timed(labkit_step, repeats), timed(plain_step, repeats)
    tokens = int(batch.sequences.numel())
    return {
        "train_step": {"labkit_tokens_per_s": tokens / ours, "baseline_tokens_per_s": tokens / theirs},
        "train_step_speedup_vs_baseline": theirs / ours,
    }


def matmul_peak(threads: int, sizes=(512, 1024, 2048), repeats: int = 5) -> float:
    """This machine's fp32 matmul rate in GFLOP/s on ``threads`` threads: the best over square sizes of the
    median of ``repeats`` timed products (2 n^3 FLOPs each). The ceiling every phase is measured against."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        best = 0.0
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            best = max(best, 2 * n**3 / timed(functools.partial(torch.matmul, a, b), repeats) / 1e9)
        return best
    finally:
        torch.set_num_threads(before)


PHASES = ("student_sampling", "teacher_sampling", "teacher_scoring", "update", "evaluation")


def phase_efficiency(student, teacher, tokenizer, task, repeats: int, peak_gflops: float) -> dict:
    """Per phase of the methods' steps (16 prompts x 4, the headline's shapes): median seconds, the FLOPs the
    ledger charges it, the achieved GFLOP/s and its fraction of ``peak_gflops``. ``student_sampling``,
    ``teacher_scoring`` and ``update`` are OPD's step; ``teacher_sampling`` is SFT's (the teacher writes the
    batch); ``evaluation`` is one evaluation's sampled pass over 1,000 race problems (uncharged in the races;
    its FLOPs counted here the ledger's way)."""
    import copy

    from ..evaluate import evaluate, held_out_set
    from ..flops import ComputeLedger

    opd = Trainer(TrainConfig(method="opd", batch_size=16, group_size=4), copy.deepcopy(student), tokenizer,
                  task, teacher=teacher, progress=False)  # fmt: skip
    sft = Trainer(TrainConfig(method="sft", batch_size=16, group_size=4), copy.deepcopy(student), tokenizer,
                  task, teacher=teacher, progress=False)  # fmt: skip
    seconds = {k: [] for k in PHASES}
    flops = {k: [] for k in PHASES}

    def charged(trainer, field, fn):
        before = getattr(trainer.ledger, field)
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start, getattr(trainer.ledger, field) - before

    def update(batch):
        batch.advantages = opd.opd_advantages(batch)
        opd.update(opd.loss(batch)[0])

    problems_1000 = held_out_set(task, 1000, "race")
    for step in range(repeats + 1):
        problems = opd.prompts(step + 1)
        batch, t_sample, f_sample = charged(
            opd, "student_sampling", functools.partial(opd.student_samples, problems)
        )
        _, t_score, f_score = charged(
            opd, "teacher_scoring", functools.partial(opd.score_with_teacher, batch)
        )
        _, t_update, f_update = charged(opd, "student_train", functools.partial(update, batch))
        _, t_teacher, f_teacher = charged(
            sft, "teacher_sampling", functools.partial(sft.off_policy_samples, problems)
        )
        ledger = ComputeLedger()
        start = time.perf_counter()
        result = evaluate(opd.student, tokenizer, task, seed=0, temperature=1.0, progress=False,
                          problems=problems_1000)  # fmt: skip
        t_eval = time.perf_counter() - start
        length = max(len(c) for c in result.completions) + len(problems_1000[0].prompt)
        ledger.add_forward("student_sampling", opd.student, 1000 * length, length / 2)
        times = (t_sample, t_teacher, t_score, t_update, t_eval)
        charges = (f_sample, f_teacher, f_score, f_update, ledger.student_sampling)
        if step:  # the first step is a warm-up
            for key, t, f in zip(PHASES, times, charges):
                seconds[key].append(t)
                flops[key].append(f)
    table = {}
    for key in PHASES:
        t, f = statistics.median(seconds[key]), statistics.median(flops[key])
        table[key] = {"seconds": t, "flops": f, "gflops_per_s": f / t / 1e9,
                      "fraction_of_peak": f / t / 1e9 / peak_gflops}  # fmt: skip
    return table


def measure(teacher, student, tokenizer, task, batch: int, repeats: int) -> dict:
    """Every timing of throughput.json, in order, on ``batch`` held-out prompts of ``task``."""
    problems = task.problems(batch, "held_out", seed=0)
    prompts = encode_prompts(tokenizer, [p.prompt for p in problems])
    new_tokens = task.max_completion_length
    results = {"batch": batch, "max_new_tokens": new_tokens}
    models = {"teacher": teacher, "student": student}
    results["sampling"] = sampling = sampling_speed(models, tokenizer, prompts, new_tokens, repeats)
    results["sampling_speedup_vs_hf_generate"] = min(v["speedup"] for v in sampling.values())
    results |= train_step_speed(student, tokenizer, task, batch, repeats)
    threads = torch.get_num_threads()
    results["peak_gflops"] = {str(n): matmul_peak(n) for n in sorted({1, threads})}
    results["phases"] = phases = phase_efficiency(student, teacher, tokenizer, task, repeats,
                                                  results["peak_gflops"][str(threads)])  # fmt: skip
    results["phases_threads"] = threads
    # one OPD step by stage: the phases' OPD timings, not a second timing loop
    results["opd_step_breakdown"] = {k: phases[k]["seconds"] for k in ("student_sampling", "teacher_scoring",
                                                                       "update")}  # fmt: skip
    return results


def headline_profile(side_by_side: dict) -> dict:
    """The committed side-by-side benchmark's wall time and settings, and per method its runs, charged
    seconds and episodes per run."""
    sbs = side_by_side
    results = {"headline_wall_seconds": sbs["wall_seconds"]}
    results["headline_settings"] = {k: sbs["config"][k] for k in ("budget", "seeds", "eval_n", "eval_points")}
    results["headline_settings"]["workers"] = sbs["machine"].get("workers", 1)
    results["headline_profile"] = {
        method: {
            "runs": len(e["curves"]),
            "charged_seconds_per_run": statistics.mean(c["seconds"][-1] for c in e["curves"]),
            "episodes_per_run": statistics.mean(c["episodes"][-1] for c in e["curves"]),
        }
        for method, e in sbs["methods"].items()
    }
    return results
