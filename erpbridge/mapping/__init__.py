"""Declarative mappings from an ERP's own export format to canonical records."""

from erpbridge.mapping.mapper import Mapper, MappingError
from erpbridge.mapping.spec import FieldMap, MappingSpec

__all__ = ["Mapper", "MappingError", "MappingSpec", "FieldMap"]
