"""User-facing errors: each prints as one line and exits with code 2 on the CLI."""


class CnnlabError(Exception):
    """Bad input from the user; the message names the problem and the fix.

    `cli_message`, when set, is the same message for the command line (naming its flags
    where the message names Python's keyword arguments).
    """

    cli_message: str | None = None


class RunError(CnnlabError):
    """A run folder that cannot be created, read or resumed; the message names the file and the fix."""
