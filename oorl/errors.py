"""User-facing errors: one line, what is wrong, where, and how to fix it; the CLI exits with status 2."""


class UserError(Exception):
    """Bad input from the user (config, paths, data). Printed as one line without a traceback."""

    exit_code = 2
