"""The explorer widget reacts to its controls (the browser test checks that it renders)."""

import pytest

from labkit.studies.pertoken import TokenScores
from labkit.views.widgets import TokenExplorer


def _scores(prompt, tokens, advantage):
    n = len(tokens)
    return TokenScores(
        prompt,
        tokens,
        [-0.1] * n,
        [-0.1 + a for a in advantage],
        advantage,
        [abs(a) for a in advantage],
        [[("1", 0.9), ("2", 0.1)]] * n,
    )


SNAPSHOTS = {
    "opd": [
        {
            "step": 1,
            "flops": 1e9,
            "scores": [_scores("1+2=", list("3"), [-2.0]), _scores("2+2=", list("4"), [0.5])],
        },
        {
            "step": 9,
            "flops": 9e9,
            "scores": [_scores("1+2=", list("3;"), [0.1, 0.0]), _scores("2+2=", list("5"), [-4.0])],
        },
    ],
    "sft": [{"step": 1, "flops": 2e9, "scores": [_scores("7+1=", list("8"), [0.0])]}],
}


def test_changing_the_controls_changes_the_tokens_shown():
    explorer = TokenExplorer(SNAPSHOTS)
    shown = {explorer.tokens.value}
    explorer.sample.value = 1
    shown.add(explorer.tokens.value)
    explorer.step.value = 1
    shown.add(explorer.tokens.value)
    assert "after step 9" in explorer.caption.value
    explorer.quantity.value = "reverse_kl"
    shown.add(explorer.tokens.value)
    explorer.method.value = "sft"
    shown.add(explorer.tokens.value)
    assert len(shown) == 5 and "7+1=" in explorer.tokens.value
    assert explorer.step.max == 0 and explorer.sample.max == 0  # ranges follow the chosen method


def test_an_empty_explorer_says_what_to_do():
    with pytest.raises(ValueError, match="run a comparison"):
        TokenExplorer({"opd": []})
