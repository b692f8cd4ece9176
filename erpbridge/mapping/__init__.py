"""Declarative mappings between a system's own formats and canonical records: reading
(:mod:`.mapper`), writing (:mod:`.writer`) and templates (:mod:`.templates`)."""

from erpbridge.mapping.mapper import Mapper, MappingError, RecordRejected
from erpbridge.mapping.spec import FieldMap, MappingSpec

__all__ = ["Mapper", "MappingError", "RecordRejected", "MappingSpec", "FieldMap"]
