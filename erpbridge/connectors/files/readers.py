"""Streaming readers for ERP export files: CSV, JSON, JSON Lines and XML.

Each reader yields ``(location, raw)`` pairs one record at a time, so memory stays flat for any
file size. ``location`` says where the record is, for error messages: ``line 7`` (CSV, JSON
Lines), ``line 12 /export/products/product[3]`` (XML), ``$.products[3]`` (JSON). When a record
cannot even be read (broken encoding, malformed row, invalid JSON line), ``raw`` is a
:class:`Unreadable` with the reason instead of a dict, and reading goes on with the next
record. A file that breaks off (a truncated XML or JSON document) ends with an
``Unreadable`` for the rest of the file; everything before it has been yielded.

No input can take memory or the process with it:

- a record is at most ``max_record_bytes`` (the mapping's, 1 MiB by default): a longer CSV or
  JSON Lines line is rejected by its line number and read past without being held; a JSON or
  XML record that grows past it ends the file there (it cannot be skipped without parsing it);
- a JSON record nested more than :data:`MAX_DEPTH` levels deep is rejected (ijson builds any
  depth; what comes after the reader cannot take it); JSON Lines and XML are bounded by their
  parsers (orjson: 1,024 levels, lxml: 256);
- a JSON number of more digits than Python converts to an integer ends the file there, before
  ijson's C backend sees it (it would crash the process, see :class:`_BoundedInput`);
- CSV with CR-only line ends (old Mac exports) is read like any other.

Untrusted XML is parsed with entity expansion, DTD loading and network access switched off:
no billion laughs, no XXE.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import ijson
import orjson
from lxml import etree

from erpbridge.mapping.spec import FileFormat, MappingSpec

EXTENSIONS: dict[str, FileFormat] = {".csv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "jsonl",
                                     ".ndjson": "jsonl", ".xml": "xml"}
#: Levels of objects and lists a JSON record may have (ERP records have a handful; pickling it
#: for a worker process and hashing it recurse once per level).
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record that could not be read, and why."""

    reason: str


class ReaderError(Exception):
    """The file as a whole cannot be read (unknown format, no header...)."""


def format_of(path: Path, spec: MappingSpec) -> FileFormat:
    if spec.format:
        return spec.format
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ReaderError(f"cannot tell the format of {path.name}: name it .csv, .json, .jsonl or .xml, or set `format`")
    return fmt


def read_records(stream: BinaryIO, fmt: FileFormat, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    if fmt == "csv":
        return _read_csv(stream, spec)
    if fmt == "jsonl":
        return _read_jsonl(stream, spec.max_record_bytes)
    if fmt == "json":
        return _read_json(stream, spec)
    return _read_xml(stream, spec)


# -- lines ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than the record size limit: read past, not kept."""

    size: int

    def reason(self, limit: int) -> str:
        return f"line of {self.size:,} bytes, longer than max_record_bytes ({limit:,}): not read"


def capped_lines(stream: BinaryIO, limit: int) -> Iterator[bytes | LongLine]:
    """The stream's lines with their line ends, a line longer than ``limit`` bytes as a
    :class:`LongLine` (its bytes are read in pieces and dropped)."""
    readline = stream.readline
    cap = limit + 1
    while line := readline(cap):
        if len(line) > limit:
            size = len(line)
            while not line.endswith(b"\n") and (line := readline(1 << 20)):
                size += len(line)
            yield LongLine(size)
        else:
            yield line


# -- CSV --------------------------------------------------------------------------------------

class _CrAsLf(io.RawIOBase):
    """A stream with CR-only line ends (classic Mac), read with LF ones."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer)).replace(b"\r", b"\n")
        buffer[: len(data)] = data
        return len(data)


def _with_line_feeds(stream: BinaryIO) -> BinaryIO:
    """The stream, read with LF line ends if its first 64 KiB end lines with CR only."""
    head = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
    return io.BufferedReader(_CrAsLf(stream), 1 << 20) if b"\r" in head and b"\n" not in head else stream


def _decoded_lines(stream: BinaryIO, encoding: str, limit: int, bad: dict[int, str]) -> Iterator[str]:
    """Decode line by line, so a broken byte spoils one record, not the file. Lines that fail
    to decode, or are too long to read, are remembered in ``bad`` (line number -> reason)."""
    decode = codecs.getdecoder(encoding)
    for number, raw in enumerate(capped_lines(_with_line_feeds(stream), limit), start=1):
        if type(raw) is LongLine:
            bad[number] = raw.reason(limit)
            yield "\n"
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8) and encoding.replace("-", "").lower() == "utf8":
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield decode(raw)[0]
        except UnicodeDecodeError as exc:
            bad[number] = f"not valid {encoding}: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            yield decode(raw, "replace")[0]


def _read_csv(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    options = spec.csv
    limit = spec.max_record_bytes
    bad: dict[int, str] = {}
    lines = _decoded_lines(stream, options.encoding, limit, bad)
    first = next(lines, None)
    if first is None:
        return
    if 1 in bad:
        raise ReaderError(f"line 1 (header): {bad[1]}")
    delimiter = options.delimiter or _sniff_delimiter(first)
    try:
        header_row = next(csv.reader([first], delimiter=delimiter, quotechar=options.quotechar, strict=True))
    except csv.Error as exc:
        raise ReaderError(f"line 1 (header): malformed: {exc}") from None
    header = [h.strip() for h in header_row]
    if not any(header):
        raise ReaderError("line 1: the header row is empty")
    width = len(header)

    # csv.reader consumes several physical lines for a quoted multi-line field: keep count.
    counter = _LineCounter(lines, limit)
    reader = csv.reader(counter, delimiter=delimiter, quotechar=options.quotechar, strict=True)
    while True:
        start = counter.number + 1
        counter.row_size = 0
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"line {start}", Unreadable(f"malformed row: {exc}")
            continue
        except _LongRow:
            yield f"line {start}", Unreadable(f"a row of more than max_record_bytes ({limit:,}) over several lines: "
                                              "not read")
            continue
        end = counter.number
        broken = next((bad[n] for n in range(start, end + 1) if n in bad), None)
        if broken:
            yield f"line {start}", Unreadable(broken)
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != width:
            yield f"line {start}", Unreadable(f"malformed row: {len(row)} fields, the header has {width}")
            continue
        yield f"line {start}", dict(zip(header, row))


class _LongRow(Exception):
    """A row that spans lines grew past the record size limit."""


class _LineCounter:
    """Iterates lines and counts them (line 1 is the header, already consumed), and the size of
    the row being read (``row_size``, reset by the reader), which a quoted field may spread
    over many lines."""

    def __init__(self, lines: Iterator[str], limit: int):
        self._lines = lines
        self._limit = limit
        self.number = 1
        self.row_size = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        self.row_size += len(line)
        if self.row_size > self._limit:
            raise _LongRow
        return line


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# -- JSON Lines -------------------------------------------------------------------------------

def _read_jsonl(stream: BinaryIO, limit: int) -> Iterator[tuple[str, dict | Unreadable]]:
    for number, line in enumerate(capped_lines(stream, limit), start=1):
        if type(line) is LongLine:
            yield f"line {number}", Unreadable(line.reason(limit))
        elif not is_blank(line):
            yield f"line {number}", parse_jsonl_line(line)


def is_blank(line: bytes) -> bool:
    """A blank line of JSON Lines is no record (a line read from a file is never empty: it
    has at least its line end)."""
    return line.isspace()


def parse_jsonl_line(line: bytes) -> dict | Unreadable:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Unreadable("not valid UTF-8" if "utf-8" in str(exc).lower() else f"not valid JSON: {exc}")
    if not isinstance(value, dict):
        return Unreadable(f"expected a JSON object, got {type(value).__name__}")
    return value


# -- JSON -------------------------------------------------------------------------------------

class _BoundedInput:
    """A binary stream as ijson or lxml reads it, ended early (the parser sees the end of the
    file) where reading on would hold a record of more than ``limit`` bytes, or give the parser
    a run of more than ``digits`` digits. ``ended`` then says why.

    The digits are for ijson's C backend (yajl2_c): it turns an integer into a Python int with
    ``PyLong_FromString`` and checks the result only with an ``assert``, compiled out of
    release builds. An integer of more digits than CPython converts (``sys.int_max_str_digits``,
    4,300 by default) makes that call fail, and the NULL it returns is handed on as the value:
    the process dies of a segmentation fault. A run of digits that long is no ERP data, in a
    number or a string, so the parser is never given one.

    The record size is the bytes read since the last record the reader took (:meth:`record_read`);
    the parser reads a buffer ahead (64 KiB for ijson, 32 KiB for lxml), so the limit holds
    within one buffer."""

    def __init__(self, stream: BinaryIO, limit: int | None, digits: int | None = None):
        self._stream, self._limit, self._digits = stream, limit, digits
        self._since = 0
        self._run = 0  # digits at the end of what was read so far
        self._long_run = b"0" * (digits + 1) if digits is not None else b""
        self.ended: str | None = None

    def read(self, size: int) -> bytes:
        if self.ended is not None:
            return b""
        data = self._stream.read(size)
        if self._digits is not None and data:
            cut = self._digit_run(data)
            if cut is not None:
                self.ended = f"a number of more than {self._digits:,} digits, the rest cannot be read"
                return data[:cut]
        if self._limit is not None and self._since > self._limit:  # read before this, with no record ending
            self.ended = f"a record larger than max_record_bytes ({self._limit:,}), the rest cannot be read"
            return b""
        self._since += len(data)
        return data

    def _digit_run(self, data: bytes) -> int | None:
        """Where in ``data`` a run of too many digits begins (0 if it began before), or None.
        (Every digit made ``0`` and everything else ``x``, a run is a plain substring search.)"""
        zeros = data.translate(_DIGITS_AS_ZEROS)
        lead = len(zeros) - len(zeros.lstrip(b"0"))
        if self._run + lead > self._digits:
            return 0
        found = zeros.find(self._long_run)
        if found >= 0:
            return found
        trailing = len(zeros) - len(zeros.rstrip(b"0"))
        self._run = self._run + trailing if trailing == len(zeros) else trailing
        return None

    def record_read(self) -> None:
        self._since = 0


_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))


def _max_digits() -> int:
    return sys.get_int_max_str_digits() or sys.int_info.default_max_str_digits


def too_deep(record: dict) -> bool:
    """Whether a record has more than :data:`MAX_DEPTH` levels of objects and lists (level by
    level over its containers only, no recursion: most records have one or two)."""
    level = [v for v in record.values() if type(v) in _CONTAINERS]
    for _ in range(MAX_DEPTH - 1):
        if not level:
            return False
        inner = []
        for container in level:
            for v in container.values() if type(container) is dict else container:
                if type(v) in _CONTAINERS:
                    inner.append(v)
        level = inner
    return bool(level)


_CONTAINERS = (dict, list)
_TOO_DEEP = Unreadable(f"nested more than {MAX_DEPTH} levels deep")


def _read_json(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    """Stream the items of one array: the one at ``json.records`` (dotted), else the first array."""
    prefix = _json_array_prefix(stream, spec.json_.records)
    stream.seek(0)
    bounded = _BoundedInput(stream, spec.max_record_bytes, _max_digits())
    path = "$" + ("." + prefix.removesuffix(".item").replace(".item.", "[*].") if prefix != "item" else "")
    index = -1
    try:
        for index, value in enumerate(ijson.items(bounded, prefix, use_float=False)):
            bounded.record_read()
            where = f"{path}[{index}]"
            if type(value) is not dict:
                yield where, Unreadable(f"expected a JSON object, got {type(value).__name__}")
            else:
                yield where, _TOO_DEEP if too_deep(value) else value
    except ijson.common.IncompleteJSONError as exc:
        reason = bounded.ended or f"file ends or breaks off here, the rest cannot be read: {_first_line(exc)}"
        yield f"{path}[{index + 1}]", Unreadable(reason)
        return
    except (ijson.common.JSONError, UnicodeDecodeError) as exc:
        yield f"{path}[{index + 1}]", Unreadable(bounded.ended or f"not valid JSON, the rest cannot be read: "
                                                                  f"{_first_line(exc)}")
        return
    if bounded.ended:
        yield f"{path}[{index + 1}]", Unreadable(bounded.ended)


def _json_array_prefix(stream: BinaryIO, records: str | None) -> str:
    if records:
        return f"{records}.item"
    bounded = _BoundedInput(stream, None, _max_digits())  # events only: nothing is built, nothing held
    try:
        for prefix, event, _ in ijson.parse(bounded):
            if event == "start_array":
                return f"{prefix}.item" if prefix else "item"
    except (ijson.common.JSONError, UnicodeDecodeError) as exc:
        raise ReaderError(f"not valid JSON: {bounded.ended or _first_line(exc)}") from None
    raise ReaderError(bounded.ended or "no array of records found; set `json.records` to its dotted path")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- XML --------------------------------------------------------------------------------------

def _read_xml(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    tag = spec.xml.record
    bounded = _BoundedInput(stream, spec.max_record_bytes)
    # Only end events, and with a record tag only those of records (lxml filters them): a
    # Python step per element of a big file costs more than mapping its record.
    events = etree.iterparse(
        bounded, events=("end",), tag=tag, resolve_entities=False, load_dtd=False, no_network=True,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )
    parent_paths: dict[int, str] = {}
    counters: dict[tuple[int, str], int] = {}
    root = entities = None
    try:
        for _, element in events:
            parent = element.getparent()
            if root is None:
                tree = element.getroottree()
                root = tree.getroot()
                # Entities can only be declared in the document's own DTD (external ones are
                # never loaded): without one, no record can hold an entity reference.
                entities = tree.docinfo.internalDTD is not None
            if not tag and parent is not root:
                continue  # without a record tag, the records are the root's children
            parent_key = id(parent)
            if parent_key not in parent_paths:
                parent_paths[parent_key] = element.getroottree().getpath(parent) if parent is not None else ""
            counter_key = (parent_key, element.tag)
            counters[counter_key] = counters.get(counter_key, 0) + 1
            where = f"line {element.sourceline} {parent_paths[parent_key]}/{element.tag}[{counters[counter_key]}]"
            entity = next(element.iter(etree.Entity), None) if entities else None
            bounded.record_read()
            if entity is not None:
                yield where, Unreadable(f"entity reference {entity.text} is not expanded: entities are off for "
                                        "untrusted XML")
            else:
                yield where, element_to_dict(element)
            # Free what has been read: the element and the siblings before it.
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        yield f"line {line}", Unreadable(bounded.ended or f"XML is not well-formed (truncated?), the rest cannot be "
                                                          f"read: {exc.msg}")


def element_to_dict(element) -> dict:
    """``<p id="1"><sku>A</sku><tag>x</tag><tag>y</tag></p>`` -> ``{"@id": "1", "sku": "A", "tag": ["x", "y"]}``.
    (Each lxml property read costs: every one is read once.)"""
    result: dict = {f"@{k}": v for k, v in element.items()}
    for child in element:
        tag = child.tag
        if type(tag) is not str:
            continue  # entity references left unexpanded, comments
        text = child.text
        if len(child) or child.items():
            value = element_to_dict(child)
            if text and not len(child) and text.strip():
                value["#text"] = text.strip()
        else:
            value = text.strip() if text else ""
        existing = result.get(tag, _NONE)
        if existing is _NONE:
            result[tag] = value
        elif type(existing) is list:
            existing.append(value)
        else:
            result[tag] = [existing, value]
    return result


_NONE = object()

