"""User-facing errors: one line, what is wrong, where, and how to fix it. Bad input exits with status 2,
a run that had to stop with status 1."""


class UserError(Exception):
    """Bad input from the user (config, paths, data). Printed as one line without a traceback."""

    exit_code = 2


class TrainingError(RuntimeError):
    """A run that must stop (e.g. the rollout engine and the learner disagree, a learner rank died).
    Printed as one line without a traceback; the CLI exits with status 1."""

    exit_code = 1
