"""An ipywidgets explorer: step through training, method by method, and watch the teacher grade each token.

Standard ipywidgets only (Dropdown, IntSlider, ToggleButtons, HTML), so it renders in JupyterLab, Jupyter
Notebook and Colab alike.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..studies.pertoken import QUANTITIES
from .tokens import tokens_html


class TokenExplorer(widgets.VBox):
    """``snapshots = {method: [{"step", "flops", "scores": [TokenScores, ...]}, ...]}``
    (as labkit.studies.compare keeps them)."""

    def __init__(self, snapshots: dict[str, list[dict]], quantity: str = "advantage"):
        self.snapshots = {m: s for m, s in snapshots.items() if s}
        if not self.snapshots:
            raise ValueError(
                "no snapshots to explore: run a comparison (labkit.studies.compare.run_comparison) first"
            )
        first = next(iter(self.snapshots))
        self.method = widgets.Dropdown(options=list(self.snapshots), value=first, description="method")
        self.step = widgets.IntSlider(
            min=0,
            max=len(self.snapshots[first]) - 1,
            value=0,
            description="evaluation",
            continuous_update=True,
        )
        self.sample = widgets.IntSlider(
            min=0, max=len(self.snapshots[first][0]["scores"]) - 1, value=0, description="sample"
        )
        self.quantity = widgets.ToggleButtons(
            options=list(QUANTITIES), value=quantity, description="colour by"
        )
        self.caption = widgets.HTML()
        self.tokens = widgets.HTML()
        self.tokens.add_class("labkit-tokens")
        for control in (self.method, self.step, self.sample, self.quantity):
            control.observe(self._refresh, names="value")
        super().__init__(
            [
                widgets.HBox([self.method, self.quantity]),
                widgets.HBox([self.step, self.sample]),
                self.caption,
                self.tokens,
            ]
        )
        self.add_class("labkit-explorer")
        self._refresh()

    def _refresh(self, change=None) -> None:
        snaps = self.snapshots[self.method.value]
        self.step.max = len(snaps) - 1
        snap = snaps[min(self.step.value, len(snaps) - 1)]
        self.sample.max = len(snap["scores"]) - 1
        scores = snap["scores"][min(self.sample.value, len(snap["scores"]) - 1)]
        values = scores.values(self.quantity.value)
        self.caption.value = (
            f"<b>{html.escape(self.method.value)}</b> after step {snap['step']} "
            f"({snap['flops']:.2e} FLOPs) — mean {self.quantity.value} {sum(values) / len(values):+.3f}; "
            "red: the student is more sure of this token than the teacher (advantage < 0), green: less sure; "
            "hover a token for every score"
        )
        self.tokens.value = tokens_html(scores, self.quantity.value)
