"""Local copies of order-history documents (``order_history.use_local_documents``), and how
any document is served to the shop.

A documents feedback file names each document's file by a path inside the inbox; the import
copies that file into the documents folder, which erpbridge owns (``order_history.documents_folder``,
created ``0700``), under the SHA-256 of its content, and the :class:`~erpbridge.records.Document`
record keeps that id, never a path. The API serves a local document by its id only, so no input
can make it serve any other file.

Whatever its source (a local copy or the ERP in real time), a document goes out as an
attachment with a media type from :data:`MEDIA_TYPES` (anything else as
``application/octet-stream``) and ``X-Content-Type-Options: nosniff``: a document cannot become a
page of the shop's origin in a customer's browser.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from erpbridge.private_files import private_dir, write_private

#: Where local copies live when the config does not say (relative to the config file's folder).
DEFAULT_FOLDER = Path("erpbridge-documents")
#: A copy larger than this is refused (a document is read whole when it is copied and served).
MAX_DOCUMENT_BYTES = 64 << 20

#: Media types served as what they are, and the file extension they are named with.
MEDIA_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
OCTET_STREAM = "application/octet-stream"


def documents_folder(config) -> Path:
    return config.resolve(config.order_history.documents_folder or DEFAULT_FOLDER)


def store_copy(config, content: bytes) -> str:
    """Keep ``content`` in the documents folder (once per content); returns its id, the SHA-256."""
    digest = hashlib.sha256(content).hexdigest()
    path = private_dir(documents_folder(config)) / digest
    if not path.exists():
        write_private(path, content)
    return digest


def copy_path(config, content_id: str) -> Path:
    """The copy with this id (a record's ``content``: 64 hex digits, never a path)."""
    assert re.fullmatch(r"[0-9a-f]{64}", content_id), content_id
    return documents_folder(config) / content_id


def served_media_type(media_type: str | None) -> str:
    """The media type a document is served with: its own if it is in :data:`MEDIA_TYPES`."""
    plain = (media_type or "").split(";", 1)[0].strip().lower()
    return plain if plain in MEDIA_TYPES else OCTET_STREAM


def download_headers(doc_type: str, number: str, media_type: str) -> dict[str, str]:
    """Headers that make a served document a download named ``<type>-<number>.<ext>``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{doc_type}-{number}").lstrip(".") or "document"
    return {"Content-Disposition": f'attachment; filename="{name}.{MEDIA_TYPES.get(media_type, "bin")}"',
            "X-Content-Type-Options": "nosniff"}
