"""OData on the adapter kit: v2 and v4 answers, server-driven paging, SAP's CSRF token, JSON ``$batch``.

Why an own small layer and not pyodata or python-odata: pyodata is v2 only and has no CSRF
handling, python-odata is v4 only; what a connector needs of OData is a handful of URL rules and
answer shapes, which sit here on the kit's :class:`~erpbridge.connectors.kit.HttpAdapter` (its
error classes, auth, exchange log).

* **Query options** are written with ``%20`` for spaces: SAP and CAP refuse the ``+`` that form
  encoding (httpx's ``params=``) makes of them.
* **Paging** is the server's: v4's ``@odata.nextLink`` (a relative one resolved against the
  context URL, as the standard says), v2's ``d.__next``; the client never counts ``$skip`` itself
  (a server caps pages as it likes).
* **Answers**: v4 lists are ``value``, v2 ``d.results`` (a single entity ``d``); v4 is asked for
  IEEE754-compatible decimals (strings, as v2 sends them), so amounts never pass through a float.
* **CSRF** (``csrf=True``, SAP Gateway): a write carries the token fetched with a GET and
  ``x-csrf-token: Fetch`` at its service's root (with the trailing slash SAP wants), with the
  session cookie that came with it (httpx's cookie jar); a ``403`` saying ``x-csrf-token:
  Required`` (the session expired) fetches a new token once and sends the write again. The write
  never reached the business logic then, so sending it again cannot double it.
* **ETags** (:meth:`ODataAdapter.change`): every update and delete sends ``If-Match`` with the
  ETag the entity was read with (v4 ``@odata.etag``, v2 ``__metadata.etag``; opaque strings); a
  412 re-reads the entity once and tries again, a second one is a message error naming it.
* **$batch** (v4 JSON batch, Business Central's up to 100 requests): each member answers on its
  own; members of one ``atomicityGroup`` stand or fall together, so a failed member fails its
  whole group, whatever the other members' own statuses say (CAP answers 201 for a member of a
  group it then rolled back).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from functools import partial
from decimal import Decimal
from typing import Any, Callable, Iterator, Literal
from urllib.parse import quote

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.kit import HttpAdapter, classify, next_links

Version = Literal["v2", "v4"]
_V2_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
#: What may stay unescaped in a query option's value: OData's own syntax.
_SAFE = "()',/:$=@*;"


def literal(value: Any, version: Version) -> str:
    """A value as an OData literal in ``$filter`` (a string quoted, its quotes doubled)."""
    if isinstance(value, dt.datetime):
        stamp = value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"datetimeoffset'{stamp}'" if version == "v2" else stamp
    if isinstance(value, dt.date):
        return f"datetime'{value.isoformat()}T00:00:00'" if version == "v2" else value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def query(options: dict[str, Any]) -> str:
    """``$filter=a%20eq%20'b'&...`` (None values left out)."""
    return "&".join(f"{key}={quote(str(value), safe=_SAFE)}" for key, value in options.items() if value is not None)


def decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def date(value: Any) -> dt.date | None:
    """A date of either version: v2's ``/Date(ms)/``, v4's ``2026-12-02`` or a timestamp."""
    stamp = timestamp(value)
    return stamp.date() if stamp else None


def timestamp(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    match = _V2_DATE.match(str(value))
    if match:
        return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    if "T" in text:
        parsed = dt.datetime.fromisoformat(text)
    else:
        parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class ODataAdapter(HttpAdapter):
    """One OData system (all its services below ``base_url``), v2 or v4, with or without CSRF."""

    def __init__(self, base_url: str, *, version: Version, csrf: bool, **kit: Any):
        accept = "application/json" if version == "v2" else "application/json;IEEE754Compatible=true"
        super().__init__(base_url.rstrip("/") + "/", connector="odata", headers={"Accept": accept}, **kit)
        self.version, self.csrf = version, csrf
        self._tokens: dict[str, str] = {}
        self._token_lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------

    def rows(self, path: str, *, flow: str, point: str, **options: Any) -> Iterator[dict]:
        """Every entity of a collection, page after page as the server hands them out;
        ``options`` are query options without their ``$`` (``filter=``, ``expand=``...)."""
        target = f"{path}?{query({f'${k}': v for k, v in options.items()})}" if options else path
        if self.version == "v4":
            yield from next_links(self, target, flow=flow, point=point, items="value",
                                  link=partial(_next_link, self.base_url.join(target)))
        else:
            yield from next_links(self, target, flow=flow, point=point, items=("d", "results"), link=("d", "__next"))

    def first(self, path: str, *, flow: str, point: str, **options: Any) -> dict | None:
        """The first entity a filtered collection answers, or None."""
        return next(iter(self.rows(path, flow=flow, point=point, top=1, **options)), None)

    def entity(self, data: Any) -> dict:
        """The entity of a single-entity answer (v2 wraps it in ``d``)."""
        if self.version == "v2" and isinstance(data, dict) and isinstance(data.get("d"), dict):
            return data["d"]
        return data

    def nested(self, value: Any) -> list[dict]:
        """An expanded to-many navigation: v4 a list, v2 ``{"results": [...]}``."""
        if isinstance(value, dict):
            return value.get("results") or []
        return value or []

    # -- writing ------------------------------------------------------------------------------

    def create(self, path: str, body: dict, *, flow: str, point: str) -> dict:
        """POST one entity (a deep insert when it carries its items); the created entity."""
        return self.entity(self.json(self.write("POST", path, flow=flow, point=point, json=body)))

    def write(self, method: str, path: str, *, flow: str, point: str, accept: tuple[int, ...] = (),
              **options: Any) -> httpx.Response:
        """A write (with SAP's CSRF token where the system wants one); an answer whose status is in
        ``accept`` is returned for the caller to read, any other error raised."""
        if not self.csrf:
            return self.request(method, path, flow=flow, point=point, accept=accept, **options)
        service = path.split("/", 1)[0]
        headers = dict(options.pop("headers", None) or {})
        headers["x-csrf-token"] = self._token(service, flow)
        response = self.request(method, path, flow=flow, point=point, headers=headers, accept=(403, *accept),
                                **options)
        if _csrf_refused(response):
            headers["x-csrf-token"] = self._token(service, flow, stale=headers["x-csrf-token"])
            response = self.request(method, path, flow=flow, point=point, headers=headers, accept=(403, *accept),
                                    **options)
            if _csrf_refused(response):
                raise GeneralError(f"{self.system} refused a fresh CSRF token for {method} {path}: is the user "
                                   "allowed to write to this service?")
        if response.status_code not in accept:
            self.check(response)
        return response

    def etag(self, row: dict) -> str | None:
        """The ETag an entity was read with: v4's ``@odata.etag``, v2's ``__metadata.etag``."""
        if self.version == "v4":
            return row.get("@odata.etag")
        return (row.get("__metadata") or {}).get("etag")

    def change(self, method: str, path: str, row: dict, *, flow: str, point: str, what: str,
               recheck: Callable[[dict], None] | None = None, reread: str | None = None,
               **options: Any) -> httpx.Response:
        """An update or delete (``PATCH``, ``MERGE``, ``DELETE``) of the entity at ``path`` as it was
        read (``row``): ``If-Match`` carries the ETag it was read with, so a change someone made in
        between is never overwritten unseen. A ``412 Precondition Failed`` (it changed) reads the
        entity again, lets ``recheck`` refuse what its new state no longer allows (a
        :class:`MessageError`), and tries once more with the new ETag; a second 412 is a message
        error naming ``what``, the entity (someone keeps changing it: a person should look). A bound
        action (``POST`` to ``path``) names the entity to read again in ``reread``."""
        extra = dict(options.pop("headers", None) or {})
        for attempt in (1, 2):
            etag = self.etag(row)
            headers = {**extra, **({"If-Match": etag} if etag else {})}
            response = self.write(method, path, flow=flow, point=point, accept=(412,), headers=headers, **options)
            if response.status_code != 412:
                return response
            if attempt == 2:
                break
            again = self.request("GET", reread or path, flow=flow, point=f"{point}.reread", accept=(404,))
            if again.status_code == 404:
                raise MessageError(f"{self.system}: {what} was deleted while erpbridge changed it")
            row = self.entity(self.json(again))
            if recheck is not None:
                recheck(row)
        raise MessageError(f"{self.system}: {what} changed again while erpbridge retried its {method} "
                           "(412 Precondition Failed twice): someone keeps changing it; look at it in the ERP "
                           "and retry the message")

    def _token(self, service: str, flow: str, stale: str | None = None) -> str:
        with self._token_lock:
            token = self._tokens.get(service)
            if token is None or token == stale:
                response = self.request("GET", f"{service}/", flow=flow, point="odata.csrf.fetch",
                                        headers={"x-csrf-token": "Fetch"}, record_bodies=False)
                token = response.headers.get("x-csrf-token")
                if not token or token.lower() == "required":
                    raise GeneralError(f"{self.system} answered no CSRF token at {service}/")
                self._tokens[service] = token
            return token

    def batch(self, requests: list[dict], *, flow: str, point: str) -> list[httpx.Response | ConnectorError]:
        """One v4 JSON ``$batch``: ``requests`` as the OData JSON batch format has them (``id``,
        ``method``, ``url`` relative to the service, ``body``, optional ``atomicityGroup``); an
        answer per request, in their order, or the error it stands for. A failed member of an
        atomicity group fails every member of it (the group was rolled back)."""
        members = [{"headers": {"Content-Type": "application/json", "Accept": self.headers_accept}, **r}
                   for r in requests]
        atomic = any("atomicityGroup" in r for r in requests)  # BC: one transaction only with Isolation
        answer = self.json(self.request("POST", "$batch", flow=flow, point=point, json={"requests": members},
                                        headers={"Isolation": "snapshot"} if atomic else None))
        by_id = {str(r.get("id")): r for r in answer.get("responses", [])}
        results: list[httpx.Response | ConnectorError] = []
        for member in members:
            got = by_id.get(str(member["id"]))
            if got is None:
                results.append(GeneralError(f"{self.system} answered no member {member['id']} of a $batch"))
                continue
            response = httpx.Response(int(got.get("status", 500)), json=got.get("body"),
                                      headers=got.get("headers") or {},
                                      request=httpx.Request(member["method"], self.base_url.join(member["url"])))
            error = classify(response, self.system, f"{member['method']} {member['url']} (in a $batch)")
            results.append(response if error is None else error)
        for group in {m.get("atomicityGroup") for m in members} - {None}:
            indices = [i for i, m in enumerate(members) if m.get("atomicityGroup") == group]
            failed = next((results[i] for i in indices if isinstance(results[i], ConnectorError)), None)
            if failed is not None:
                for i in indices:
                    if not isinstance(results[i], ConnectorError):
                        results[i] = type(failed)(f"rolled back with its atomicity group: {failed}")
        return results

    @property
    def headers_accept(self) -> str:
        return self.http.headers["Accept"]


def _next_link(asked: httpx.URL, page: Any) -> str | None:
    """v4's next link as an absolute URL: a relative one is relative to the context URL (the
    service's ``$metadata``, OData JSON format 4.01 section 4.6), not to the page asked for; CAP
    and Business Central answer ``companies(...)/items?$skiptoken=...`` for a company's items."""
    link = page.get("@odata.nextLink") if isinstance(page, dict) else None
    if not link:
        return None
    context = page.get("@odata.context")
    return str(asked.join(context).join(link) if context else asked.join(link))


def _csrf_refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.headers.get("x-csrf-token", "").lower() == "required"
