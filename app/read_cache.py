"""The rows of recent light reads (list pages, an article's reviews), and whole anonymous list
pages (searches included), kept for as long as the database is provably unchanged.

A list page of one publisher costs PostgreSQL a statement and the decompression of twenty
stored documents, and the worker psycopg's machinery for one more query: together three
times what serving one stored review costs (bench/README.md, "List pages"). Syndication
partners ask for the same first pages again and again, so each process keeps the rows it read
last, tagged with a *version* of the whole database read before or with them:

- SQLite: ``PRAGMA data_version`` of the reading connection, which changes whenever another
  connection commits (and the reading connection never writes);
- PostgreSQL: the text of a snapshot (``pg_current_snapshot()``) taken just before the rows
  were read, in the same pipeline. Two equal snapshots see exactly the same committed
  transactions, and any commit anywhere in the cluster moves every later snapshot on (it
  leaves the list of transactions in progress, or it began after the snapshot and advanced
  its horizon), so a later snapshot equal to the tag means nothing was committed since.

A read is answered from here only when the version read *for that request* equals the entry's,
so a caller never sees a page older than a write that finished before it asked. There is no
expiry time to tune: the cost of a hit is reading the version (microseconds on SQLite, one
round trip shared by every request waiting on PostgreSQL). Entries are evicted least recently
used beyond ``budget`` bytes of their rows' stored documents.
"""

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ReadCache:
    """Values (a query's rows, a whole list page) by key, each with the version it was read at."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any, int]] = OrderedDict()
        self._used = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._budget > 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, version: Hashable) -> Any:
        """What was kept for ``key`` at ``version``, else None. Shared: copy before changing it."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: Hashable, version: Hashable, value: Any, *, size: int) -> None:
        """Keep ``value`` (``size`` bytes of text) read at ``version``: every read that missed
        comes here once."""
        self.misses += 1
        if size > self._budget or not self.enabled:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._used -= old[2]
        self._entries[key] = (version, value, size)
        self._used += size
        while self._used > self._budget:
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._used -= evicted

    @property
    def size(self) -> int:
        """Bytes of stored text held."""
        return self._used


def rows_size(rows: list[Any]) -> int:
    """The bytes of text in a query's rows, what keeping them costs."""
    return sum(len(value) for row in rows for value in row if isinstance(value, bytes | str))
