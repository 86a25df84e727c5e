"""The one exception class the lab raises for bad input: its message names the problem and the fix."""


class LabkitError(ValueError):
    """Bad input or an impossible request; the message says what is wrong and how to fix it."""
