"""Every exception Dateline raises on purpose, in one tree; each class says the HTTP status the API answers with.

    DatelineError                500  a problem the message explains (the base; never raised itself)
    ├── InputError               500  an input path that cannot be read (the CLIs; no request raises it)
    ├── ModelError               500  the embedding model cannot be found or loaded
    ├── SettingsError            500  a service setting that cannot be used (a ValueError too)
    ├── TooManyBuckets           400  a coverage interval that would make too many buckets (says which to use)
    └── StoreError               503  an index this process cannot serve or write (the CLIs exit 2 on these)
        ├── IndexMissing         503  no index where one was expected
        ├── IndexCorrupt         503  files that disagree with the manifest or with each other
        ├── IndexBusy            503  another writer holds the index (with Retry-After)
        ├── WriteFailed          503  a write through the API that failed midway (nothing was written)
        ├── BuildFailed          503  a build that wrote nothing
        ├── ModelMismatch        503  a model other than the index's
        ├── ShardMismatch        503  shards that cannot be searched as one index
        ├── NoLexicalIndex       400  lexical or hybrid search on an index without a lexical index
        └── NoReranker           400  rerank=true with no cross-encoder configured

The service has one handler: `{"detail": str(exc)}` with `exc.status` and `exc.headers`. A request this index
cannot serve is the client's to change (400); an index that cannot answer now is the server's (503).
"""

from __future__ import annotations

from typing import ClassVar


class DatelineError(Exception):
    """Base of Dateline's own errors; the message always says what to do."""

    status: ClassVar[int] = 500
    headers: ClassVar[dict[str, str]] = {}


class InputError(DatelineError):
    """An input path that cannot be read at all (missing, or a format Dateline does not know)."""


class ModelError(DatelineError):
    """The embedding model cannot be found or loaded; the message says how to install or point to one."""


class SettingsError(DatelineError, ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


class StoreError(DatelineError):
    """Base of index problems; the message always says what to do."""

    status = 503


class IndexMissing(StoreError):
    """No index where one was expected."""


class IndexCorrupt(StoreError):
    """An index whose files disagree with its manifest or with each other."""


class IndexBusy(StoreError):
    """Another process is writing the index (one writer at a time); retry when it has finished."""

    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}


class WriteFailed(StoreError):
    """A write through the API failed while it was applied (with the writes grouped with it); nothing was written."""


class BuildFailed(StoreError):
    """The build wrote nothing: the serving index is untouched. The message says why and what to fix."""


class ModelMismatch(StoreError):
    """A model other than the index's (to query or to add with): its vectors would not be comparable."""


class ShardMismatch(StoreError):
    """Shards that cannot be searched as one index (another model, dimension or build)."""


class NoLexicalIndex(StoreError):
    """Lexical or hybrid search on an index built without a lexical index."""

    status = 400


class NoReranker(StoreError):
    """rerank=true with no cross-encoder configured."""

    status = 400


class TooManyBuckets(DatelineError):
    """A coverage series whose interval would make too many buckets; the message names an interval that fits."""

    status = 400
