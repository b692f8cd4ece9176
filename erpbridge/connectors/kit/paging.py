"""Reading a list that a system hands out in pages: small iterators over an adapter's GETs.

Each page is one exchange in the log (all under the same measuring point). With ``items`` (a key,
a key path as a tuple, or a function of the answer) they yield the items of every page, without
it the parsed pages themselves. Extra keyword arguments go to :meth:`HttpAdapter.request`
(``headers``, ``timeout``...).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Union

import httpx

from erpbridge.connectors.base import GeneralError

if TYPE_CHECKING:
    from erpbridge.connectors.kit.http import HttpAdapter

#: Where a value sits in a JSON answer: a key (``"@odata.nextLink"``: dots are part of the key), a
#: path of keys (``("d", "__next")``), or a function of the answer.
Key = Union[str, tuple[str, ...], Callable[[Any], Any]]


def dig(data: Any, key: Key) -> Any:
    """The value at ``key`` in ``data``, None where the path breaks off."""
    if callable(key):
        return key(data)
    for part in (key,) if isinstance(key, str) else key:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def next_links(adapter: HttpAdapter, path: str, *, flow: str, point: str, params: Mapping[str, Any] | None = None,
               items: Key | None = None, link: Key | None = None, **options: Any) -> Iterator[Any]:
    """Pages that say where the next one is: the ``Link: <...>; rel="next"`` header (``link=None``:
    Shopify REST, WooCommerce, GitHub) or a field of the answer (``link="@odata.nextLink"``: OData
    v4 and Business Central; ``("d", "__next")``: OData v2 and SAP; ``"next"``). A relative link is
    resolved against the page's URL; the link carries the query, so ``params`` go with the first
    page only. A link to another host ends the walk with a :class:`GeneralError` (the adapter's
    credentials never go elsewhere), and so does a link seen before (it would never end)."""
    url: httpx.URL | str = path
    query = params
    seen: set[str] = set()
    origin = None
    while True:
        response = adapter.request("GET", url, flow=flow, point=point, params=query, **options)
        page = adapter.json(response)
        yield from _each(page, items)
        target = response.links.get("next", {}).get("url") if link is None else dig(page, link)
        if not target:
            return
        origin = origin or (response.url.scheme, response.url.host, response.url.port)
        url, query = response.url.join(target), None
        if (url.scheme, url.host, url.port) != origin:
            raise GeneralError(f"{adapter.system}: {point} links its next page to another host: {url.host}")
        if str(url) in seen:
            raise GeneralError(f"{adapter.system}: {point} links its next page to one it had already sent")
        seen.add(str(url))


def cursor_pages(adapter: HttpAdapter, path: str, *, flow: str, point: str, cursor: Key, param: str,
                 params: Mapping[str, Any] | None = None, items: Key | None = None, **options: Any) -> Iterator[Any]:
    """Pages that hand back a cursor: the value at ``cursor`` in each answer goes back as the
    query parameter ``param`` for the next page; a missing or empty cursor ends the walk. When the
    answer says "more" separately, let ``cursor`` be a function: ``lambda a: a["next_cursor"] if
    a["has_more"] else None``. The same cursor twice is a :class:`GeneralError`."""
    query = dict(params or {})
    previous = None
    while True:
        page = adapter.json(adapter.request("GET", path, flow=flow, point=point, params=query, **options))
        yield from _each(page, items)
        value = dig(page, cursor)
        if value is None or value == "" or value is False:
            return
        if value == previous:
            raise GeneralError(f"{adapter.system}: {point} answered the same cursor twice: {value!r}")
        previous = query[param] = value


def offset_pages(adapter: HttpAdapter, path: str, *, flow: str, point: str, items: Key, limit: int,
                 limit_param: str = "limit", offset_param: str = "offset", page_param: str | None = None,
                 first_page: int = 1, total: Key | None = None, params: Mapping[str, Any] | None = None,
                 **options: Any) -> Iterator[Any]:
    """Pages by position: ``offset_param``/``limit_param`` (``offset``/``limit``; OData's ``$skip``/
    ``$top``), or page numbers in ``page_param`` counting from ``first_page`` (Magento:
    ``page_param="searchCriteria[currentPage]"``, ``limit_param="searchCriteria[pageSize]"``,
    ``total="total_count"``). Yields the items. With ``total`` (where the answer says how many
    there are) it ends when that many were seen or a page is empty; without, at the first page
    shorter than ``limit``. Give ``total`` where the system has one: a server that caps the page
    size below ``limit`` looks like a short page, and Magento answers a page past the end with the
    last page again."""
    seen = 0
    for number in itertools.count():
        query = {**(params or {}), limit_param: limit}
        if page_param:
            query[page_param] = first_page + number
        else:
            query[offset_param] = seen  # not number * limit: a capped page would leave a gap
        page = adapter.json(adapter.request("GET", path, flow=flow, point=point, params=query, **options))
        rows = list(_each(page, items))
        yield from rows
        seen += len(rows)
        count = dig(page, total) if total is not None else None
        if not rows or (count is not None and seen >= int(count)) or (count is None and len(rows) < limit):
            return


def rows_by_offset(read: Callable[[int, int], list], limit: int) -> Iterator[Any]:
    """The rows of an RPC-style ``read(offset, limit)`` (Tryton's and Odoo's ``search_read``), a
    page at a time, to the first page shorter than ``limit``; the read must order its rows (by id)
    so that pages neither overlap nor leave gaps."""
    offset = 0
    while True:
        rows = read(offset, limit)
        yield from rows
        if len(rows) < limit:
            return
        offset += len(rows)


def _each(page: Any, items: Key | None) -> Iterable[Any]:
    if items is None:
        return (page,)
    return dig(page, items) or ()
