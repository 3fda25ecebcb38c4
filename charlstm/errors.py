"""Typed errors. The CLI turns each into one line on stderr and an exit code.

Messages are written for the person at the terminal: say what is wrong and what
to do about it. `exit_code` follows the shell convention the CLI documents:
1 for a failure, 2 for a usage error.
"""


class CharlstmError(Exception):
    """Base class of every error charlstm reports to the user."""

    exit_code = 1


class UsageError(CharlstmError):
    """The command line asks for something inconsistent or impossible."""

    exit_code = 2


class CorpusError(CharlstmError):
    """A training or evaluation text cannot be read or is unusable."""


class FetchError(CharlstmError):
    """A corpus could not be downloaded or verified."""


class CheckpointError(CharlstmError):
    """A checkpoint is missing, unreadable, foreign, unsafe or from a newer charlstm."""


class VocabularyError(CharlstmError):
    """Text contains characters the model's vocabulary does not have."""


class TrainingError(CharlstmError):
    """Training could not start or continue (e.g. unwritable checkpoint directory)."""


class DeviceError(CharlstmError):
    """The requested device (e.g. --device gpu) is not available."""
