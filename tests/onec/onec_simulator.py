"""A 1C simulator: the exchange node of 1C:Enterprise ("Обмен с сайтом"), driving a site over HTTP.

It makes the calls in the order 1C makes them (the protocol: 1C's own description, linked from
CS-Cart's developer guide, and ../shared/research/erp-peers.md section 4.1): ``checkauth`` with
HTTP Basic, then the cookie it answered on every call; ``init`` for ``zip`` and ``file_limit``;
each file (or one zip of all of them) POSTed with ``mode=file`` in chunks of ``file_limit``
bytes under the same name; ``import`` of each file, repeated while the site answers
``progress``; for orders ``query``, ``success`` once the answer is "loaded", and the order
files it writes back with ``mode=file``. Answers are read in the charset the site declares.
"""

from __future__ import annotations

import io
import zipfile

import httpx


class ExchangeFailed(AssertionError):
    """The site answered ``failure``: ``reason`` is its second line."""

    def __init__(self, call: str, lines: list[str]):
        super().__init__(f"{call}: {' | '.join(lines)}")
        self.lines = lines
        self.reason = "\n".join(lines[1:])


class OneC:
    def __init__(self, url: str, user: str, password: str):
        self.http = httpx.Client(base_url=url, timeout=60)
        self.user, self.password = user, password
        self.zip, self.file_limit = False, 0
        self.progress_answers = 0

    def close(self) -> None:
        self.http.close()

    def _lines(self, response: httpx.Response, call: str, *, check: bool = True) -> list[str]:
        assert response.status_code == 200, f"{call}: HTTP {response.status_code} {response.text}"
        lines = response.content.decode(response.charset_encoding or "utf-8").split("\n")
        if check and lines[0] == "failure":
            raise ExchangeFailed(call, lines)
        return lines

    def call(self, kind: str, mode: str, *, content: bytes | None = None, check: bool = True, **params) -> list[str]:
        query = {"type": kind, "mode": mode, **params}
        if content is None:
            response = self.http.get("", params=query)
        else:
            response = self.http.post("", params=query, content=content,
                                      headers={"Content-Type": "application/octet-stream"})
        return self._lines(response, f"{kind}&{mode}", check=check)

    # -- the steps ------------------------------------------------------------------------------

    def checkauth(self, kind: str = "catalog", *, password: str | None = None) -> list[str]:
        response = self.http.get("", params={"type": kind, "mode": "checkauth"},
                                 auth=(self.user, self.password if password is None else password))
        lines = self._lines(response, f"{kind}&checkauth")
        assert lines[0] == "success" and len(lines) >= 3, lines
        self.http.cookies.set(lines[1], lines[2])
        return lines

    def init(self, kind: str = "catalog") -> None:
        lines = self.call(kind, "init")
        settings = dict(line.split("=", 1) for line in lines if "=" in line)
        self.zip, self.file_limit = settings["zip"] == "yes", int(settings["file_limit"])

    def upload(self, filename: str, content: bytes, kind: str = "catalog") -> int:
        """POST the file in chunks of ``file_limit``; the number of chunks."""
        chunks = [content[i:i + self.file_limit] for i in range(0, len(content), self.file_limit)] or [b""]
        for chunk in chunks:
            lines = self.call(kind, "file", filename=filename, content=chunk)
            assert lines[0] == "success", lines
        return len(chunks)

    def import_file(self, filename: str, *, max_calls: int = 10_000) -> list[str]:
        """``import`` until the answer is not ``progress``; the final answer's lines."""
        for _ in range(max_calls):
            lines = self.call("catalog", "import", filename=filename)
            if lines[0] != "progress":
                assert lines[0] == "success", lines
                return lines
            self.progress_answers += 1
        raise AssertionError(f"{filename}: still progress after {max_calls} calls")

    def send_catalog(self, files: dict[str, bytes]) -> dict[str, list[str]]:
        """A whole catalog exchange: checkauth, init, the files (zipped if the site asks), and
        their imports in order; each file's final answer."""
        self.checkauth("catalog")
        self.init("catalog")
        if self.zip:
            self.upload("v8_exchange.zip", zipped(files))
        else:
            for name, content in files.items():
                self.upload(name, content)
        return {name: self.import_file(name) for name in files}

    def query(self) -> bytes:
        response = self.http.get("", params={"type": "sale", "mode": "query"})
        assert response.status_code == 200, response.text
        assert not response.content.startswith(b"failure"), response.text
        return response.content

    def success(self) -> None:
        assert self.call("sale", "success")[0] == "success"


def zipped(files: dict[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
