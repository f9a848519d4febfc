"""The one error type for bad user input: the CLI prints its lines and exits with code 2."""


class InputError(Exception):
    """Bad input from the user: each problem is one line, ideally `file:line: field: what is wrong`."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RunFailed(Exception):
    """A run that could not complete safely (nothing was written); the CLI prints it and exits with code 1."""


class FieldError(ValueError):
    """Raised by a validator to blame a field below the one it validates (e.g. `("pattern",)` or `(1, "id")`),
    so the error names the exact key and line in the user's file."""

    def __init__(self, message: str, *sub: str | int):
        super().__init__(message)
        self.sub = sub
