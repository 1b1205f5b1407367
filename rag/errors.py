"""The errors a user can act on.

Each message says what went wrong and what to do next; the CLI prints it as one line and exits
with code 2, so nothing here should carry a traceback's worth of detail.
"""


class RagError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""


class BadInput(RagError):
    """A path, file, question or option the assistant cannot use."""


class IndexMissing(RagError):
    """No index where one was expected."""


class IndexCorrupt(RagError):
    """An index folder exists but cannot be read."""


class IndexMismatch(RagError):
    """The index was built with other settings (embedding model, chunking, format)."""


class ModelUnavailable(RagError):
    """The generation or embedding model cannot be found, assembled or loaded."""


class IndexBusy(RagError):
    """Another process is writing the index right now."""


class IndexOutdated(IndexMismatch):
    """The index was written by an earlier release in a format that can be converted."""


class ServiceUnavailable(RagError):
    """A server the settings name (Milvus, an OpenAI-compatible model server) cannot be reached,
    times out, or answers with something other than what its API promises."""
