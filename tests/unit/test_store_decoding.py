"""The worker's stores read keys and values as faust's serializers would, with the table's codecs directly."""

import pytest

from tests.unit.test_memory_store import CODEC, KEY_CODEC, ticket
from worker.adapters import memory_store, rocksdb_store
from worker.adapters.faust_runtime import TimerApp
from worker.domain.policy import Policy
from worker.settings import WorkerSettings


@pytest.mark.parametrize("store, kind", [("memory", memory_store.Store), ("rocksdb", rocksdb_store.Store)])
def test_keys_and_values_decode_as_through_faust_s_serializers(tmp_path, store, kind):
    table = TimerApp(WorkerSettings(brokers="127.0.0.1:1", store=store, data_dir=tmp_path), Policy(), 4).table
    data, serializers = table.data, table.app.serializers
    assert isinstance(data, kind)
    stored = ticket("T-Örebro-1")
    raw_key, raw_value = KEY_CODEC.dumps("T-Örebro-1"), CODEC.dumps(stored)
    faust_key = serializers.loads_key(table.key_type, raw_key, serializer=table.key_serializer)
    faust_value = serializers.loads_value(table.value_type, raw_value, serializer=table.value_serializer)
    assert data._decode_key(raw_key) == faust_key == "T-Örebro-1"
    assert data._decode_value(raw_value) == faust_value == stored
    assert data._decode_key(None) is None and data._decode_value(None) is None
