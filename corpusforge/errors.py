"""Errors that stop a run with one line naming the problem (exit code 2 before work, 1 during)."""


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
    """Another run holds the output directory."""

    exit_code = 1
