"""Ticket writes held back until the outputs they record have been acknowledged.

A fact must reach its output topic no later than the state that says it was
emitted. Written the other way round, a kill between the two leaves a store
that says "emitted" for an output that never left the producer's buffer (seen
with RocksDB, which writes at once: six facts lost in a kill storm). The timer
service writes through this overlay; the runtime applies the writes once Kafka
has acknowledged every output of the step, or discards them if it has not.
"""

from __future__ import annotations

from collections.abc import Iterable, ItemsView, Iterator, MutableMapping
from typing import Generic, TypeVar

V = TypeVar("V")
_DELETED = object()
_MISSING = object()


class StagedStore(MutableMapping[str, V], Generic[V]):
    """A mapping over ``backing`` whose writes stay pending until ``apply``."""

    def __init__(self, backing: MutableMapping[str, V]) -> None:
        self.backing = backing
        self._staged: dict[str, object] = {}

    @property
    def pending(self) -> int:
        """Writes (and deletions) not applied yet."""
        return len(self._staged)

    def staged_keys(self) -> list[str]:
        """The keys with changes not applied yet."""
        return list(self._staged)

    def apply(self, keys: Iterable[str] | None = None) -> None:
        """Write the pending changes (those of ``keys`` only, when given) to the backing store, in order."""
        if keys is None:
            staged, self._staged = self._staged, {}
        else:
            staged = {key: self._staged.pop(key) for key in keys if key in self._staged}
        for key, value in staged.items():
            if value is _DELETED:
                if key in self.backing:
                    del self.backing[key]
            else:
                self.backing[key] = value  # type: ignore[assignment]

    def discard(self) -> None:
        """Forget the pending changes: the backing store keeps what it had."""
        self._staged.clear()

    def get(self, key: str, default: object = None) -> V | None:  # type: ignore[override]
        value = self._staged.get(key, _MISSING)
        if value is _MISSING:
            return self.backing.get(key, default)  # type: ignore[return-value]
        return default if value is _DELETED else value  # type: ignore[return-value]

    def __getitem__(self, key: str) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def __setitem__(self, key: str, value: V) -> None:
        self._staged[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._staged[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        for key in self.backing:
            if key not in self._staged:
                yield key
        for key, value in self._staged.items():
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self) -> ItemsView[str, V]:
        """The backing store's own view when nothing is pending; else its items read once each, with the
        pending ones over them (the due-index rebuild reads every ticket, at a million a second or more
        through lookups key by key)."""
        return self.backing.items() if not self._staged else _PendingOver(self)


class _PendingOver(ItemsView):
    """A StagedStore's items: the backing store's, then the pending writes not in it, deletions left out."""

    def __iter__(self) -> Iterator[tuple[str, object]]:
        store = self._mapping
        staged = store._staged
        for key, value in store.backing.items():
            pending = staged.get(key, _MISSING)
            if pending is _MISSING:
                yield key, value
            elif pending is not _DELETED:
                yield key, pending
        for key, value in staged.items():
            if value is not _DELETED and key not in store.backing:
                yield key, value
