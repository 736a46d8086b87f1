"""faust's RocksDB store, reading with the table's codecs directly (``store_decoding``).

Registered as the ``timerrocksdb`` store through faust's ``faust.stores`` entry
point. Every read of a RocksDB table decodes its value; a warm restart reads
every ticket to rebuild the due heaps.
"""

from __future__ import annotations

from faust.stores import rocksdb

from worker.adapters.store_decoding import DirectDecoding


class Store(DirectDecoding, rocksdb.Store):
    """The ticket table's RocksDB store (see the module)."""
