"""Store reads decoded with the table's codecs directly, not through faust's serializer registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from faust.serializers import codecs


class DirectDecoding:
    """Mixed into a faust store: ``_decode_key`` and ``_decode_value`` do what faust's serializers do for
    model key and value types (the table's codec, then ``from_data``), without their per-call lookups.

    That layer cost 2.7 us a record around our codec's 2.8 us: a third of reading
    a million tickets back from the changelog or from RocksDB.
    """

    key_serializer: Any
    value_serializer: Any
    key_type: Any
    value_type: Any
    _readers: Optional[tuple[Callable[[bytes], Any], Callable[[bytes], Any]]] = None

    def _decode_key(self, key: Optional[bytes]) -> Any:
        return None if key is None else self._key_and_value_readers()[0](key)

    def _decode_value(self, value: Optional[bytes]) -> Any:
        return None if value is None else self._key_and_value_readers()[1](value)

    def _key_and_value_readers(self) -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
        """Built at the first read: faust sets the serializers after the store's own initialisation."""
        if self._readers is None:
            self._readers = (_reader(self.key_serializer, self.key_type),
                             _reader(self.value_serializer, self.value_type))
        return self._readers


def _reader(serializer: Any, model: Any) -> Callable[[bytes], Any]:
    codec = codecs.get_codec(serializer)
    loads = codec._loads if codec.nodes == (codec,) else codec.loads  # one codec: faust's loads only loops over it
    from_data = model.from_data
    return lambda raw: from_data(loads(raw), preferred_type=model)
