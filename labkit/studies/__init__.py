"""Studies: experiments built on the core. Each computes and returns data; labkit.views draws it.

compare       the race: every racer from one start on one FLOP budget, over seeds (notebooks 00, 05, 08)
costs         what one racer costs against another, under each accounting, with bootstrap intervals
tuning        the one tuning protocol every racer gets (benchmarks/tuning.py)
estimators    the estimator ladder's gradients against the exact reverse-KL gradient; teacher bytes per token
levels        prices near the teacher, and whether a price depends on the budget or schedule (near_teacher.py,
              schedule_control.py, equal_rate.py in benchmarks/)
plateau       the post's own regime: SFT to its plateau, a race from there, the post's 9x/30x (plateau.py)
pertoken      the teacher as a process reward model: a score for every token the student writes (04, 05)
tokenclass    each token's job (style, digit, carry, ...): per-class entropy, KL and advantage (04, 09)
drift         how far a student's own prefixes drift, and how errors compound after a first mistake (02, 05)
recovery      the next step after a planted mistake, difficulty held fixed (05, benchmarks/recovery.py); the
              teacher's next step in the student's states (04)
forgetting    losing a skill while learning facts, and recovering it by distillation (notebook 06)
wordproblems  a word-problem task for real hub models (notebook 07)
recovery_runs recovery over every racer and seed, pooled with bootstrap intervals (benchmarks/recovery.py)
recipes       the recipes of every built model and build_to_targets, the one builder (make data, the map)
regimes       the map: races in regimes that each change one knob, and OPD's break-even (regimes_sweep.py)
premises      the post's premises tested one at a time (benchmarks/premises.py, notebook 09)
pitfalls      the clinic: seven bugs of real OPD stacks planted in the loop, and their symptoms (notebook 10)
realsize      notebook 07's real-size pair with random weights: step time and memory (real_size.py)
vs_trl        labkit's OPD step against TRL's DistillationTrainer on identical work (vs_trl.py)
throughput    the hot paths against plain `transformers`; each phase against the matmul peak (throughput.py)
workers       the worker pool that runs independent runs side by side, one thread each; machine()
"""
