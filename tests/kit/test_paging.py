"""Walking a list the system hands out in pages: every style ends at the end, with every item once."""

from __future__ import annotations

import pytest

from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.kit import cursor_pages, next_links, offset_pages

from .peer import Answer, Seen

ITEMS = [{"sku": f"SKU-{n}"} for n in range(7)]


def skus(items) -> list[str]:
    return [item["sku"] for item in items]


def test_link_header_pages(peer, adapter_for):
    def page(seen: Seen) -> Answer:
        at = int(seen.query.get("page_info", ["0"])[0])
        headers = {}
        if at + 3 < len(ITEMS):  # relative first, then absolute, as systems do both
            target = f"/products.json?page_info={at + 3}" if at == 0 else f"{peer.url}/products.json?page_info={at + 3}"
            headers["Link"] = f'<{target}>; rel="next", </products.json>; rel="previous"'
        return Answer(json={"products": ITEMS[at:at + 3]}, headers=headers)

    peer.on("/products.json", page)
    adapter = adapter_for(peer.url)
    found = next_links(adapter, "/products.json", flow="catalog", point="test.products", params={"limit": 3},
                       items="products")
    assert skus(found) == skus(ITEMS)
    assert [s.query for s in peer.requests("/products.json")] == [
        {"limit": ["3"]}, {"page_info": ["3"]}, {"page_info": ["6"]}]  # the link carries the query


def test_odata_next_link_in_the_answer(peer, adapter_for):
    def page(seen: Seen) -> Answer:
        skip = int(seen.query.get("$skiptoken", ["0"])[0])
        answer = {"@odata.context": "$metadata#items", "value": ITEMS[skip:skip + 2]}
        if skip + 2 < len(ITEMS):
            answer["@odata.nextLink"] = f"items?$filter=blocked%20eq%20false&$skiptoken={skip + 2}"  # relative, as CAP
        return Answer(json=answer)

    peer.on("/api/v2.0/companies(1)/items", page)
    found = next_links(adapter_for(peer.url + "/api/v2.0/"), "companies(1)/items", flow="catalog", point="test.items",
                       params={"$filter": "blocked eq false"}, items="value", link="@odata.nextLink")
    assert skus(found) == skus(ITEMS)


def test_odata_v2_next_link_under_d(peer, adapter_for):
    def page(seen: Seen) -> Answer:
        skip = int(seen.query.get("$skiptoken", ["0"])[0])
        answer = {"d": {"results": ITEMS[skip:skip + 4]}}
        if skip + 4 < len(ITEMS):
            answer["d"]["__next"] = f"{peer.url}/sap/A_Product?$skiptoken={skip + 4}"
        return Answer(json=answer)

    peer.on("/sap/A_Product", page)
    found = next_links(adapter_for(peer.url), "/sap/A_Product", flow="catalog", point="test.products",
                       items=("d", "results"), link=("d", "__next"))
    assert skus(found) == skus(ITEMS)


def test_pages_without_items_yield_whole_answers(peer, adapter_for):
    peer.on("/a", Answer(json={"n": 1, "next": "/b"}))
    peer.on("/b", Answer(json={"n": 2, "next": None}))
    pages = next_links(adapter_for(peer.url), "/a", flow="f", point="test.pages", link="next")
    assert [page["n"] for page in pages] == [1, 2]


def test_a_next_link_to_another_host_is_not_followed(peer, adapter_for):
    peer.on("/a", Answer(json={"value": [1], "next": "http://127.0.0.2:9/steal"}))
    pages = next_links(adapter_for(peer.url), "/a", flow="f", point="test.pages", items="value", link="next")
    with pytest.raises(GeneralError, match="another host: 127.0.0.2"):
        list(pages)


def test_a_next_link_that_loops_ends_with_an_error(peer, adapter_for):
    peer.on("/a", Answer(json={"value": [1], "next": "/b"}))
    peer.on("/b", Answer(json={"value": [2], "next": "/b"}))
    with pytest.raises(GeneralError, match="already sent"):
        list(next_links(adapter_for(peer.url), "/a", flow="f", point="test.pages", items="value", link="next"))


def test_cursor_pages(peer, adapter_for):
    def page(seen: Seen) -> Answer:
        at = int(seen.query.get("cursor", ["0"])[0])
        more = at + 3 < len(ITEMS)
        return Answer(json={"data": ITEMS[at:at + 3], "meta": {"next_cursor": str(at + 3) if more else ""}})

    peer.on("/customers", page)
    found = cursor_pages(adapter_for(peer.url), "/customers", flow="customers", point="test.customers",
                         params={"limit": 3}, cursor=("meta", "next_cursor"), param="cursor", items="data")
    assert skus(found) == skus(ITEMS)
    assert [s.query.get("cursor") for s in peer.requests("/customers")] == [None, ["3"], ["6"]]
    assert all(s.query["limit"] == ["3"] for s in peer.requests("/customers"))


def test_cursor_with_a_separate_has_more(peer, adapter_for):
    peer.on("/events", lambda seen: Answer(json={"data": [seen.query.get("after", ["-"])[0]],
                                                  "has_more": "after" not in seen.query, "last": "e1"}))
    found = cursor_pages(adapter_for(peer.url), "/events", flow="f", point="test.events", param="after", items="data",
                         cursor=lambda answer: answer["last"] if answer["has_more"] else None)
    assert list(found) == ["-", "e1"]


def window(seen: Seen, offset: str, limit: str, items: list = ITEMS) -> list:
    start = int(seen.query[offset][0])
    return items[start:start + int(seen.query[limit][0])]


def test_offset_and_limit_stop_at_a_short_page(peer, adapter_for):
    peer.on("/items", lambda seen: Answer(json={"items": window(seen, "offset", "limit")}))
    found = offset_pages(adapter_for(peer.url), "/items", flow="f", point="test.items", items="items", limit=3)
    assert skus(found) == skus(ITEMS)
    assert len(peer.requests("/items")) == 3  # 3 + 3 + 1


def test_offset_and_limit_with_a_full_last_page_ask_once_more(peer, adapter_for):
    peer.on("/items", lambda seen: Answer(json={"items": window(seen, "$skip", "$top", ITEMS[:6])}))
    found = offset_pages(adapter_for(peer.url), "/items", flow="f", point="test.items", items="items", limit=3,
                         offset_param="$skip", limit_param="$top")
    assert skus(found) == skus(ITEMS[:6])
    assert len(peer.requests("/items")) == 3  # the third, empty, page says it is over


def test_magento_search_criteria_pages_by_number_and_total(peer, adapter_for):
    """Magento answers a page past the end with the last page again: only ``total_count`` ends it."""
    def search(seen: Seen) -> Answer:
        size, page = int(seen.query["searchCriteria[pageSize]"][0]), int(seen.query["searchCriteria[currentPage]"][0])
        last = (len(ITEMS) - 1) // size + 1
        at = (min(page, last) - 1) * size
        return Answer(json={"items": ITEMS[at:at + size], "total_count": len(ITEMS),
                            "search_criteria": {"current_page": page}})

    peer.on("/rest/default/V1/products", search)
    found = offset_pages(adapter_for(peer.url), "/rest/default/V1/products", flow="catalog", point="test.products",
                         items="items", total="total_count", limit=3, page_param="searchCriteria[currentPage]",
                         limit_param="searchCriteria[pageSize]",
                         params={"searchCriteria[filter_groups][0][filters][0][field]": "updated_at"})
    assert skus(found) == skus(ITEMS)
    assert [s.query["searchCriteria[currentPage]"] for s in peer.requests("/rest/default/V1/products")] == [
        ["1"], ["2"], ["3"]]


def test_total_keeps_going_when_the_server_caps_the_page_size(peer, adapter_for):
    peer.on("/items", lambda seen: Answer(json={"items": ITEMS[int(seen.query["offset"][0]):][:2],
                                                "total": len(ITEMS)}))
    found = offset_pages(adapter_for(peer.url), "/items", flow="f", point="test.items", items="items", limit=5,
                         total="total")  # asked for 5, the server sends at most 2
    assert len(list(found)) == len(ITEMS)
