"""Typed errors. The CLI turns each into one line on stderr and an exit code.

Messages are written for the person at the terminal: say what is wrong and what
to do about it. `exit_code` follows the shell convention the CLI documents:
1 for a failure, 2 for a usage error.
"""


class CharlstmError(Exception):
    """Base class of every error charlstm reports to the user."""

    exit_code = 1


class UsageError(CharlstmError):
    """The command line (or an API call) asks for something inconsistent or impossible.

    `param` names the option at fault by its API name (`top_p`) when one is, so that a
    caller can point at it (the HTTP server's error `param`); None otherwise.
    """

    exit_code = 2

    def __init__(self, message: str = "", param: str | None = None):
        super().__init__(message)
        self.param = param


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
