"""How a student's own mistakes move it away from where it was trained.

``error_compounding`` asks the exposure-bias question directly: once a student
has made a first mistake (and so stands in a state its training data never
showed it), are its *next* steps worse than steps taken from a clean prefix?
"""
from __future__ import annotations

from dataclasses import dataclass

from .task import Problem, check_steps


@dataclass
class Compounding:
    clean_steps: int  # steps written after an all-correct prefix
    clean_errors: int
    after_error_steps: int  # steps written after at least one earlier mistake
    after_error_errors: int
    first_error_column: list[int]  # per completion with a mistake: the column of its first one

    @property
    def clean_error_rate(self) -> float:
        return self.clean_errors / max(1, self.clean_steps)

    @property
    def after_error_rate(self) -> float:
        return self.after_error_errors / max(1, self.after_error_steps)

    @property
    def ratio(self) -> float | None:
        """How many times more often a step goes wrong after a first mistake (None if undefined)."""
        if self.clean_errors == 0 or self.after_error_steps == 0:
            return None
        return self.after_error_rate / self.clean_error_rate


def error_compounding(problems: list[Problem], completions: list[str], digits: int) -> Compounding:
    """Step error rates from a clean prefix vs after a first mistake, judged locally (see ``check_steps``)."""
    clean = clean_err = after = after_err = 0
    firsts = []
    for problem, completion in zip(problems, completions):
        seen_error = False
        for column, verdict in enumerate(check_steps(problem, completion, digits)):
            wrong = verdict is not True  # a missing step counts as a mistake
            if seen_error:
                after += 1
                after_err += wrong
            else:
                clean += 1
                clean_err += wrong
                if wrong:
                    firsts.append(column)
            seen_error |= wrong
    return Compounding(clean, clean_err, after, after_err, firsts)
