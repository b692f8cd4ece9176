"""Magento's admin REST API on the adapter kit: its auth, its ``searchCriteria`` and its paths.

Every call goes to ``<url>/rest/<store_code>/V1/...`` with its measuring point
``magento.<what>``. Searches are ``searchCriteria`` filter groups (AND-ed; the filters of one
group are OR-ed), read page by page until ``total_count``: Magento answers a page past the end
with the last page again, so the count is what ends the walk.
"""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import quote

from erpbridge.connectors.kit import BearerToken, HttpAdapter, OAuth1, offset_pages

#: One condition of a search: (field, value, condition_type).
Condition = tuple[str, Any, str]


def criteria(*conditions: Condition, sort: str | None = None) -> dict[str, Any]:
    """``searchCriteria`` query parameters: each condition a filter group of its own (AND)."""
    params: dict[str, Any] = {}
    for group, (field, value, condition) in enumerate(conditions):
        where = f"searchCriteria[filter_groups][{group}][filters][0]"
        params.update({f"{where}[field]": field, f"{where}[value]": value, f"{where}[condition_type]": condition})
    if sort:
        params.update({"searchCriteria[sortOrders][0][field]": sort, "searchCriteria[sortOrders][0][direction]": "ASC"})
    return params


def segment(value: Any) -> str:
    """A path segment, quoted whole: a SKU may hold a '/'."""
    return quote(str(value), safe="")


class MagentoAdapter(HttpAdapter):
    def __init__(self, cfg, system: str, exchange_log):
        if cfg.token is not None:
            auth = BearerToken(cfg.token.get_secret_value())
        else:
            auth = OAuth1(cfg.consumer_key, cfg.consumer_secret.get_secret_value(), cfg.access_token,
                          cfg.access_token_secret.get_secret_value(), signature_method="HMAC-SHA256")
        super().__init__(f"{cfg.url.rstrip('/')}/rest/{cfg.store_code}", system=system, connector="magento",
                         timeout=cfg.timeout, exchange_log=exchange_log, auth=auth)
        self.page_size = cfg.page_size

    def call(self, method: str, path: str, *, flow: str, point: str, **options: Any) -> Any:
        """One call and its JSON answer."""
        return self.json(self.request(method, path, flow=flow, point=f"magento.{point}", **options))

    def search(self, path: str, *conditions: Condition, flow: str, point: str, sort: str | None = None,
               page_size: int | None = None) -> Iterator[dict]:
        """Every item a search finds, page by page."""
        return offset_pages(self, path, flow=flow, point=f"magento.{point}", items="items", total="total_count",
                            limit=page_size or self.page_size, page_param="searchCriteria[currentPage]",
                            limit_param="searchCriteria[pageSize]", params=criteria(*conditions, sort=sort))

    def order_by_number(self, flow: str, number: str) -> dict | None:
        """The order whose ``increment_id`` is the shop order number."""
        found = list(self.search("/V1/orders", ("increment_id", number, "eq"), flow=flow, point="order.search"))
        return found[0] if found else None
