"""The products awaiting release page (seed 001): new ERP products arrive disabled; an operator
enables the ticked ones or a whole group (with its subgroups), after a preview naming how many
and which, through the same path as `erpbridge products enable`; each change is audited; a
viewer sees the list but cannot enable."""

from __future__ import annotations

import re

from sqlalchemy import select

from erpbridge.control.tables import control_audit
from erpbridge.records import Product, ProductGroup
from erpbridge.services.products import set_enabled
from erpbridge.store.records import RecordStore
from erpbridge.store.tables import products


def _catalog(hub, prefix: str) -> None:
    RecordStore(hub.engine).put([
        ProductGroup(code=f"{prefix}tools", name="Tools"),
        ProductGroup(code=f"{prefix}saws", name="Saws", parent=f"{prefix}tools"),
        ProductGroup(code=f"{prefix}paint", name="Paint"),
        Product(sku=f"{prefix}SAW-1", name="Jigsaw", group=f"{prefix}saws"),
        Product(sku=f"{prefix}HAM-1", name="Claw hammer", group=f"{prefix}tools"),
        Product(sku=f"{prefix}RED-1", name="Red paint", group=f"{prefix}paint"),
        Product(sku=f"{prefix}BLU-1", name="Blue paint", group=f"{prefix}paint")])


def _enabled(hub, prefix: str) -> dict[str, bool]:
    with hub.engine.connect() as conn:
        return dict(conn.execute(select(products.c.key, products.c.enabled)
                                 .where(products.c.key.startswith(prefix))).all())


def _skus_in(html: str) -> list[str]:
    return re.search(r'id="skus">([^<]*)<', html).group(1).split(", ")


def _audit(hub) -> list[dict]:
    with hub.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(control_audit).where(control_audit.c.target == "products")
                                              .order_by(control_audit.c.id)).mappings()]


def test_a_whole_group_is_enabled_after_a_preview_and_audited(hub):
    _catalog(hub, "g-")
    operator = hub.sign_in("operator")
    listed = operator.get("/control/products", params={"group": "g-tools"})
    assert "Jigsaw" in listed.text and "Claw hammer" in listed.text and "Red paint" not in listed.text
    preview = operator.post("/control/products/preview", {"group": "g-tools"})
    assert 'id="n">2<' in preview.text and _skus_in(preview.text) == ["g-HAM-1", "g-SAW-1"]
    assert not any(_enabled(hub, "g-").values())  # a preview changes nothing
    done = operator.post("/control/products/apply", {"skus": "g-HAM-1\ng-SAW-1", "group": "g-tools",
                                                     "reason": "texts and pictures ready"})
    assert "Enabled 2 product(s)" in done.text
    assert _enabled(hub, "g-") == {"g-SAW-1": True, "g-HAM-1": True, "g-RED-1": False, "g-BLU-1": False}
    row = _audit(hub)[-1]
    assert (row["actor"], row["action"], row["count"], row["ids"], row["reason"]) == (
        "operator", "enable", 2, "g-HAM-1,g-SAW-1", "texts and pictures ready")
    assert '"group":"g-tools"' in row["selection"]
    assert "g-SAW-1" not in operator.get("/control/products").text  # no longer awaiting


def test_ticked_products_are_enabled_and_one_decided_on_meanwhile_is_left_alone(hub):
    _catalog(hub, "t-")
    operator = hub.sign_in("operator")
    operator.get("/control/products")
    preview = operator.post("/control/products/preview", {"sku": ["t-RED-1", "t-BLU-1", "t-NOPE"]})
    assert _skus_in(preview.text) == ["t-BLU-1", "t-RED-1"]  # an unknown SKU awaits nothing
    set_enabled(hub, enabled=False, skus=["t-RED-1"])  # the merchant withdrew it by the CLI meanwhile
    done = operator.post("/control/products/apply", {"skus": "t-BLU-1\nt-RED-1", "group": ""})
    assert "Enabled 1 product(s)" in done.text and re.search(r'id="skipped">[^<]*t-RED-1', done.text)
    assert _enabled(hub, "t-") == {"t-BLU-1": True, "t-RED-1": False, "t-SAW-1": False, "t-HAM-1": False}
    assert _audit(hub)[-1]["ids"] == "t-BLU-1"


def test_a_viewer_sees_the_products_but_cannot_enable(hub):
    _catalog(hub, "v-")
    viewer = hub.sign_in("viewer")
    page = viewer.get("/control/products")
    assert "v-SAW-1" in page.text and "Preview enabling" not in page.text
    refused = viewer.post("/control/products/preview", {"group": "v-tools"})
    assert refused.status_code == 403
    refused = viewer.post("/control/products/apply", {"skus": "v-SAW-1", "group": ""})
    assert refused.status_code == 403 and not any(_enabled(hub, "v-").values())
