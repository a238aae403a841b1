"""Exceptions that carry a message meant for the researcher, not a traceback."""


class ResearchError(Exception):
    """A problem with the user's input or set-up; the CLI prints it and exits non-zero."""


class InputError(ResearchError):
    """Bad input: names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
