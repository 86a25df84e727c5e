"""What each method learns from, shown on one sample: the rows must be the methods' real signals."""

import math

import torch


def test_four_signals_are_the_methods_own_weights(shipped):
    from labkit.objectives import grpo_advantages
    from labkit.studies.pertoken import method_signals
    from labkit.views.tokens import SIGNALS

    task, teacher, student, tokenizer = (shipped[k] for k in ("task", "teacher", "student", "tokenizer"))
    signals = method_signals(student, teacher, tokenizer, task, group_size=4, seed=1)
    assert list(signals) == list(SIGNALS)
    rl, opd, exact, sft = signals["rl"], signals["opd"], signals["opd-exact"], signals["sft"]
    # RL and the OPDs see the same student sample; SFT sees the teacher's text with weight 1 everywhere
    assert rl.tokens == opd.tokens == exact.tokens and set(sft.advantage) == {1.0}
    # RL: one number on every token, negative for the failing sample shown, from a group with variance
    assert len(set(rl.advantage)) == 1 and rl.advantage[0] < 0
    assert rl.advantage[0] >= float(grpo_advantages(torch.tensor([[0.0, 0.0, 0.0, 1.0]]))[0, 0]) - 1e-6
    # OPD: the per-token log-ratio; opd-exact: minus the full-vocabulary reverse KL at each position
    for a, s, t in zip(opd.advantage, opd.student_logprob, opd.teacher_logprob):
        assert math.isclose(a, t - s, abs_tol=1e-5)
    assert len(set(opd.advantage)) > 1
    # opd-exact: minus the exact KL's gradient on the sampled token's logit, checked by autograd
    from labkit.objectives import reverse_kl

    t = 3
    logits = torch.randn(6, requires_grad=True)
    teacher_logits = torch.randn(6)
    reverse_kl(logits[None], teacher_logits[None]).sum().backward()
    s_logp, t_logp = torch.log_softmax(logits, -1).detach(), torch.log_softmax(teacher_logits, -1)
    kl = float(reverse_kl(logits[None].detach(), teacher_logits[None]))
    from labkit.studies.pertoken import TokenScores, exact_push

    one = TokenScores("", ["x"], [float(s_logp[t])], [float(t_logp[t])], [0.0], [kl])
    assert math.isclose(exact_push(one)[0], -float(logits.grad[t]), rel_tol=1e-4, abs_tol=1e-6)
    assert exact.advantage == exact_push(opd)


def test_a_student_that_never_succeeds_gives_no_rl_signal_and_says_so(shipped, tiny_student):
    import pytest

    from labkit.studies.pertoken import method_signals

    with pytest.raises(ValueError, match="reward variance"):
        method_signals(tiny_student, shipped["teacher"], shipped["tokenizer"], shipped["task"], tries=4)
