"""The one error type for bad user input: the CLI prints its lines and exits with code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: each problem is one line, ideally `file:line: field: what is wrong`."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    @classmethod
    def capped(cls, problems: list[str], limit: int = 20) -> InputError:
        """The first `limit` problems of a long list (a file with many bad lines), and how many more there are."""
        more = len(problems) - limit
        return cls(problems[:limit] + ([f"... and {more} more problems"] if more > 0 else []))


class RunFailed(Exception):
    """A run that could not complete safely (nothing was written); the CLI prints it and exits with code 1."""


class FieldError(ValueError):
    """Raised by a validator to blame a field below the one it validates (e.g. `("pattern",)` or `(1, "id")`),
    so the error names the exact key and line in the user's file."""

    def __init__(self, message: str, *sub: str | int):
        super().__init__(message)
        self.sub = sub
