"""Streaming readers for ERP export files: CSV, JSON, JSON Lines and XML.

Each reader yields ``(location, raw)`` pairs one record at a time, so memory stays flat for any
file size. ``location`` says where the record is, for error messages: ``line 7`` (CSV, JSON
Lines), ``line 12 /export/products/product[3]`` (XML), ``$.products[3]`` (JSON). When a record
cannot even be read (broken encoding, malformed row, invalid JSON line), ``raw`` is a
:class:`Unreadable` with the reason instead of a dict, and reading goes on with the next
record. A file that breaks off (a truncated XML or JSON document) ends with an
``Unreadable`` for the rest of the file; everything before it has been yielded.

Untrusted XML is parsed with entity expansion, DTD loading and network access switched off:
no billion laughs, no XXE.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import ijson
import orjson
from lxml import etree

from erpbridge.mapping.spec import FileFormat, MappingSpec

EXTENSIONS: dict[str, FileFormat] = {".csv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "jsonl",
                                     ".ndjson": "jsonl", ".xml": "xml"}


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


class Progress:
    """Bytes read so far, for a progress bar; readers update it as they go."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    @property
    def position(self) -> int:
        try:
            return self._stream.tell()
        except (OSError, ValueError):
            return 0


def read_records(stream: BinaryIO, fmt: FileFormat, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    if fmt == "csv":
        return _read_csv(stream, spec)
    if fmt == "jsonl":
        return _read_jsonl(stream)
    if fmt == "json":
        return _read_json(stream, spec)
    return _read_xml(stream, spec)


# -- CSV --------------------------------------------------------------------------------------

def _decoded_lines(stream: BinaryIO, encoding: str, bad: dict[int, str]) -> Iterator[str]:
    """Decode line by line, so a broken byte spoils one record, not the file. Lines that fail
    to decode are replaced leniently and remembered in ``bad`` (line number -> reason)."""
    decode = codecs.getdecoder(encoding)
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8) and encoding.replace("-", "").lower() == "utf8":
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield decode(raw)[0]
        except UnicodeDecodeError as exc:
            bad[number] = f"not valid {encoding}: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            yield decode(raw, "replace")[0]


def _read_csv(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    options = spec.csv
    bad: dict[int, str] = {}
    lines = _decoded_lines(stream, options.encoding, bad)
    first = next(lines, None)
    if first is None:
        return
    delimiter = options.delimiter or _sniff_delimiter(first)
    header_row = next(csv.reader([first], delimiter=delimiter, quotechar=options.quotechar))
    header = [h.strip() for h in header_row]
    if 1 in bad:
        raise ReaderError(f"line 1 (header): {bad[1]}")
    if not any(header):
        raise ReaderError("line 1: the header row is empty")
    width = len(header)

    # csv.reader consumes several physical lines for a quoted multi-line field: keep count.
    counter = _LineCounter(lines)
    reader = csv.reader(counter, delimiter=delimiter, quotechar=options.quotechar, strict=True)
    while True:
        start = counter.number + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"line {start}", Unreadable(f"malformed row: {exc}")
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


class _LineCounter:
    """Iterates lines and counts them (line 1 is the header, already consumed)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.number = 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        return line


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# -- JSON Lines -------------------------------------------------------------------------------

def _read_jsonl(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    for number, line in enumerate(stream, start=1):
        if not is_blank(line):
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

def _read_json(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    """Stream the items of one array: the one at ``json.records`` (dotted), else the first array."""
    prefix = _json_array_prefix(stream, spec.json_.records)
    stream.seek(0)
    path = "$" + ("." + prefix.removesuffix(".item").replace(".item.", "[*].") if prefix != "item" else "")
    index = -1
    try:
        for index, value in enumerate(ijson.items(stream, prefix, use_float=False)):
            where = f"{path}[{index}]"
            if isinstance(value, dict):
                yield where, value
            else:
                yield where, Unreadable(f"expected a JSON object, got {type(value).__name__}")
    except ijson.common.IncompleteJSONError as exc:
        yield f"{path}[{index + 1}]", Unreadable(f"file ends or breaks off here, the rest cannot be read: {_first_line(exc)}")
    except (ijson.common.JSONError, UnicodeDecodeError) as exc:
        yield f"{path}[{index + 1}]", Unreadable(f"not valid JSON, the rest cannot be read: {_first_line(exc)}")


def _json_array_prefix(stream: BinaryIO, records: str | None) -> str:
    if records:
        return f"{records}.item"
    try:
        for prefix, event, _ in ijson.parse(stream):
            if event == "start_array":
                return f"{prefix}.item" if prefix else "item"
    except (ijson.common.JSONError, UnicodeDecodeError) as exc:
        raise ReaderError(f"not valid JSON: {_first_line(exc)}") from None
    raise ReaderError("no array of records found; set `json.records` to its dotted path")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- XML --------------------------------------------------------------------------------------

def _read_xml(stream: BinaryIO, spec: MappingSpec) -> Iterator[tuple[str, dict | Unreadable]]:
    tag = spec.xml.record
    # Only end events, and with a record tag only those of records (lxml filters them): a
    # Python step per element of a big file costs more than mapping its record.
    events = etree.iterparse(
        stream, events=("end",), tag=tag, resolve_entities=False, load_dtd=False, no_network=True,
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
            if entity is not None:
                yield where, Unreadable(f"entity reference {entity.text} is not expanded: entities are off for "
                                        "untrusted XML")
            else:
                yield where, _element_to_dict(element)
            # Free what has been read: the element and the siblings before it.
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        yield f"line {line}", Unreadable(f"XML is not well-formed (truncated?), the rest cannot be read: {exc.msg}")


def _element_to_dict(element) -> dict:
    """``<p id="1"><sku>A</sku><tag>x</tag><tag>y</tag></p>`` -> ``{"@id": "1", "sku": "A", "tag": ["x", "y"]}``.
    (Each lxml property read costs: every one is read once.)"""
    result: dict = {f"@{k}": v for k, v in element.items()}
    for child in element:
        tag = child.tag
        if type(tag) is not str:
            continue  # entity references left unexpanded, comments
        text = child.text
        if len(child) or child.items():
            value = _element_to_dict(child)
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


def open_binary(path: Path) -> BinaryIO:
    return io.open(path, "rb", buffering=1 << 20)
