"""Facts about the methods' signals, checked against exact float64 references."""

import pytest
import torch

from labkit import objectives


def _exact_reverse_kl(s, t):
    ps, pt = torch.softmax(s.double(), -1), torch.softmax(t.double(), -1)
    return (ps * (ps.log() - pt.log())).sum(-1)


def _exact_forward_kl(s, t):
    return _exact_reverse_kl(t, s)


def _exact_jsd(s, t, beta):
    ps, pt = torch.softmax(s.double(), -1), torch.softmax(t.double(), -1)
    m = beta * pt + (1 - beta) * ps
    return beta * (pt * (pt / m).log()).sum(-1) + (1 - beta) * (ps * (ps / m).log()).sum(-1)


@pytest.fixture()
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 6, 11, generator=g) * 2, torch.randn(4, 6, 11, generator=g) * 2


def test_exact_reverse_kl_matches_float64_reference(logits):
    s, t = logits
    torch.testing.assert_close(
        objectives.reverse_kl(s, t).double(), _exact_reverse_kl(s, t), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_generalized_jsd_matches_float64_reference(logits, beta):
    s, t = logits
    expected = {0.0: _exact_forward_kl(s, t), 1.0: _exact_reverse_kl(s, t)}.get(beta)
    if expected is None:
        expected = _exact_jsd(s, t, beta)
    torch.testing.assert_close(
        objectives.generalized_jsd(s, t, beta).double(), expected, atol=1e-5, rtol=1e-5
    )


def test_divergences_vanish_for_identical_policies(logits):
    s, _ = logits
    for value in (
        objectives.reverse_kl(s, s),
        objectives.forward_kl(s, s),
        objectives.generalized_jsd(s, s, 0.5),
    ):
        assert value.abs().max() < 1e-5


def test_grpo_advantages_are_zero_mean_per_group_and_zero_when_rewards_tie():
    rewards = torch.tensor(
        [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    )
    adv = objectives.grpo_advantages(rewards)
    torch.testing.assert_close(adv.mean(1), torch.zeros(4), atol=1e-6, rtol=0)
    assert torch.equal(adv[1], torch.zeros(4)) and torch.equal(adv[2], torch.zeros(4))
    assert adv[3, 0] > 0 > adv[3, 1]


def test_sft_loss_is_cross_entropy_on_masked_tokens_only():
    logprobs = torch.log(torch.tensor([[0.5, 0.25, 0.9], [0.1, 0.2, 0.3]]))
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    expected = (
        -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(0.25)) + torch.log(torch.tensor(0.1))) / 3
    )
    torch.testing.assert_close(objectives.sft_loss(logprobs, mask), expected)
    changed = logprobs.clone()
    changed[mask == 0] = -100.0
    torch.testing.assert_close(objectives.sft_loss(changed, mask), expected)


def test_sampled_token_opd_gradient_converges_to_the_exact_reverse_kl_gradient():
    """The Monte-Carlo average of the post's per-token estimator is an unbiased reverse-KL gradient."""
    g = torch.Generator().manual_seed(0)
    vocab, positions, n = 5, 3, 200_000
    student_logits = (torch.randn(positions, vocab, generator=g) * 1.5).requires_grad_(True)
    teacher_logits = torch.randn(positions, vocab, generator=g) * 1.5

    exact = torch.autograd.grad(objectives.reverse_kl(student_logits, teacher_logits).mean(), student_logits)[
        0
    ]

    probs = torch.softmax(student_logits.detach(), -1)
    tokens = torch.multinomial(probs, n, replacement=True, generator=g).T  # [n, positions]
    logp_all = torch.log_softmax(student_logits, -1)  # [positions, V]
    student_logp = logp_all.gather(-1, tokens.T).T  # [n, positions]
    teacher_logp = torch.log_softmax(teacher_logits, -1).gather(-1, tokens.T).T
    mask = torch.ones(n, positions)
    advantages = objectives.opd_advantages(student_logp, teacher_logp, mask)
    loss = objectives.importance_sampling_loss(student_logp, student_logp.detach(), advantages, mask)
    estimate = torch.autograd.grad(loss, student_logits)[0]

    torch.testing.assert_close(estimate, exact, atol=4e-3, rtol=0)
    assert (estimate - exact).abs().max() < 0.05 * exact.abs().max()


def test_discount_one_gives_the_sequence_level_reverse_kl_gradient():
    """With kl_discount_factor=1 each token is credited with the KL of everything after it:
    the estimator then follows the gradient of the whole sequence's reverse KL."""
    g = torch.Generator().manual_seed(1)
    vocab, n = 3, 200_000
    first = (torch.randn(vocab, generator=g)).requires_grad_(True)  # p(y1)
    second = (torch.randn(vocab, vocab, generator=g)).requires_grad_(True)  # p(y2 | y1)
    t_first, t_second = torch.randn(vocab, generator=g), torch.randn(vocab, vocab, generator=g)

    def seq_logp(a, b):
        return torch.log_softmax(a, -1)[:, None] + torch.log_softmax(b, -1)  # [y1, y2]

    ps = seq_logp(first, second)
    exact_kl = (ps.exp() * (ps - seq_logp(t_first, t_second))).sum()
    exact = torch.autograd.grad(exact_kl, [first, second])

    y1 = torch.multinomial(torch.softmax(first.detach(), -1), n, replacement=True, generator=g)
    y2 = torch.multinomial(torch.softmax(second.detach(), -1)[y1], 1, generator=g).squeeze(-1)
    student_logp = torch.stack([torch.log_softmax(first, -1)[y1], torch.log_softmax(second, -1)[y1, y2]], 1)
    teacher_logp = torch.stack(
        [torch.log_softmax(t_first, -1)[y1], torch.log_softmax(t_second, -1)[y1, y2]], 1
    )
    mask = torch.ones(n, 2)
    advantages = objectives.opd_advantages(student_logp, teacher_logp, mask, kl_discount_factor=1.0)
    loss = 2 * objectives.importance_sampling_loss(
        student_logp, student_logp.detach(), advantages, mask
    )  # per-sequence sum
    estimate = torch.autograd.grad(loss, [first, second])
    for e, x in zip(estimate, exact):
        torch.testing.assert_close(e, x, atol=0.02, rtol=0)


def test_opd_advantage_is_minus_the_sampled_reverse_kl():
    student = torch.tensor([[-0.1, -2.0, -0.5]])
    teacher = torch.tensor([[-0.2, -0.1, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    adv = objectives.opd_advantages(student, teacher, mask)
    torch.testing.assert_close(adv, torch.tensor([[-0.1, 1.9, 0.0]]))


def test_entropy_of_uniform_is_log_vocab():
    torch.testing.assert_close(
        objectives.entropy(torch.zeros(2, 7)), torch.full((2,), float(torch.log(torch.tensor(7.0))))
    )
