"""Errors that stop a run with one line naming the problem (exit code 2 before work, 1 during,
3 when the output is busy)."""


class CorpusforgeError(Exception):
    """Base class: its message is the one line a user sees."""

    exit_code = 1


class ConfigError(CorpusforgeError):
    """A bad config key, value or command-line argument; raised before any work."""

    exit_code = 2


class InputError(CorpusforgeError):
    """A missing input path or an empty glob; raised before any work."""

    exit_code = 2


class EnvironmentProblem(CorpusforgeError):
    """Java, the Delta jar or the Python on the workers is not what the run needs."""

    exit_code = 2


class SchemaError(CorpusforgeError):
    """A DataFrame does not have the columns or types a stage or table declares."""


class AccountingError(CorpusforgeError):
    """Kept + dropped written for a run differs from what the readers counted."""


class RunLockedError(CorpusforgeError):
    """The output is busy: another run holds its lock (raised before any work)."""

    exit_code = 3


class LeaseLostError(CorpusforgeError):
    """This run could not renew its lock's lease: it stops writing and fails."""
