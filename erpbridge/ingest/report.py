"""What an ingest reports: how many records were new, changed, unchanged and rejected, and each
rejected record by name (where it came from, where in it, which field, why)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from erpbridge.mapping.mapper import FieldError
from erpbridge.store.records import WriteResult

#: Rejections kept in the report in full (all are counted); a file of a million bad rows must
#: not fill memory with messages.
MAX_LISTED_REJECTIONS = 1000
#: Characters of a reason or a quoted value kept in a rejection (a reason quotes the value it
#: refused, which may be a whole record's worth).
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    location: str
    reason: str
    field: str | None = None
    source: str | None = None

    def __str__(self) -> str:
        if self.field is None:
            return f"{self.file}: {self.location}: {self.reason}"
        return f"{self.file}: {self.location}: {FieldError(self.field, self.source, self.reason)}"

    def as_dict(self) -> dict:
        return {"file": self.file, "location": self.location, "field": self.field, "source": self.source,
                "reason": self.reason, "message": str(self)}


@dataclass
class ImportReport:
    file: str
    kind: str
    format: str = ""
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.new + self.changed + self.unchanged + self.rejected

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def reject(self, *reasons: Rejection) -> None:
        """One rejected record, with every reason found for it (each cut to :data:`MAX_REASON`)."""
        self.rejected += 1
        room = MAX_LISTED_REJECTIONS - len(self.rejections)
        self.rejections.extend(_cut(r) for r in reasons[:room])

    def count(self, result: WriteResult) -> None:
        self.new += result.new
        self.changed += result.changed
        self.unchanged += result.unchanged

    def summary(self) -> str:
        return (f"{self.file}: {self.kind}: {self.read} read, {self.new} new, {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.rejected} rejected ({self.seconds:.2f}s)")

    def as_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "format": self.format, "read": self.read, "new": self.new,
                "changed": self.changed, "unchanged": self.unchanged, "rejected": self.rejected,
                "seconds": round(self.seconds, 3), "rejections": [r.as_dict() for r in self.rejections],
                "rejections_listed": len(self.rejections)}


def _cut(rejection: Rejection) -> Rejection:
    long = [f for f in ("reason", "source") if len(getattr(rejection, f) or "") > MAX_REASON]
    if not long:
        return rejection
    return dataclasses.replace(rejection, **{f: getattr(rejection, f)[:MAX_REASON] + "..." for f in long})
