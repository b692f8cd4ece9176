"""The steps every raw record takes between its source and the store: hash, map, check, prepare."""

from __future__ import annotations

import hashlib
import json

import orjson
import xxhash

import erpbridge
from erpbridge.ingest.rules import KnownWarehouses
from erpbridge.mapping.mapper import FieldError, Mapper
from erpbridge.mapping.spec import MappingSpec
from erpbridge.records import RECORD_KINDS
from erpbridge.store.records import Row, prepare


class RecordSteps:
    """What happens to each raw record between the reader and the store: hash, map, check
    against the config, prepare the stored row. Picklable (the mapper is rebuilt from the
    spec), so worker processes run exactly the steps the in-process path runs."""

    def __init__(self, kind: str, spec: MappingSpec, check: KnownWarehouses | None):
        self.kind, self.spec, self.check = kind, spec, check
        record = RECORD_KINDS[kind]
        self._map = Mapper(record, spec).map
        self._seed = int.from_bytes(hashlib.blake2b(orjson.dumps(
            [erpbridge.__version__, kind, spec.model_dump(mode="json"), repr(check), record.model_json_schema()],
            option=orjson.OPT_SORT_KEYS), digest_size=8).digest())

    def __getstate__(self) -> tuple:
        return self.kind, self.spec, self.check

    def __setstate__(self, state: tuple) -> None:
        self.__init__(*state)

    def run(self, raw: dict, line: bytes | None = None) -> Row | list[FieldError]:
        """The stored row, or every reason the record is rejected (``line``: the JSON Lines
        line it was parsed from)."""
        return self.finish(raw, self.source_hash(raw if line is None else line))

    def source_hash(self, source: dict | bytes) -> int:
        """The hash of a JSON Lines line, or of a record as read from another format, as a
        signed 64-bit integer (what the store's BIGINT holds)."""
        data = source if isinstance(source, bytes) else _serialized(source)
        return xxhash.xxh3_64_intdigest(data, self._seed) - (1 << 63)

    def finish(self, raw: dict, source: int) -> Row | list[FieldError]:
        """Map, validate and check the record: its row, or every reason it is rejected."""
        record, errors = self._map(raw)
        if record is not None and self.check is not None:
            error = self.check(record)
            errors = [error] if error else errors
        return errors if errors else prepare(record, source)


def _serialized(record: dict) -> bytes:
    """A record as read, as bytes to hash: orjson's JSON, or the standard library's for what
    orjson refuses (an integer beyond 64 bits, which JSON files may hold)."""
    try:
        return orjson.dumps(record, default=_tagged)
    except orjson.JSONEncodeError:
        return json.dumps(record, default=_tagged, ensure_ascii=False, separators=(",", ":")).encode()


def _tagged(value: object) -> object:
    """Values orjson does not write itself (decimals from JSON files), kept apart from strings."""
    return ["$" + type(value).__name__, str(value)]
