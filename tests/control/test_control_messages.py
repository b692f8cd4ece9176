"""The messages page: find messages by state, system, operation, key and error; act on one or on
all that match, only after a preview that names exactly what will be touched; every action audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from erpbridge.control.tables import control_audit
from erpbridge.outbox.tables import outbox_actions


def _ids_in(preview_html: str) -> list[int]:
    return [int(i) for i in re.search(r'name="ids" value="([^"]*)"', preview_html).group(1).split(",") if i]


def _audit(hub, action: str) -> list[dict]:
    with hub.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(control_audit).where(control_audit.c.action == action)
                                              .order_by(control_audit.c.id)).mappings()]


def test_filters_show_the_error_inline(hub):
    dead = hub.messages(2, channel="filters", prefix="F", error="ERP refused: SKU DRILL-9 unknown")
    pending = hub.messages(1, channel="filters", prefix="FP", state="pending", error=None)
    viewer = hub.sign_in("viewer")
    page = viewer.get("/control/messages", params={"channel": "filters", "state": "dead"})
    assert page.status_code == 200
    shown = [int(i) for i in re.findall(r'/control/messages/(\d+)"', page.text)]
    assert shown == sorted(dead, reverse=True)
    assert page.text.count("ERP refused: SKU DRILL-9 unknown") == 2
    by_error = viewer.get("/control/messages", params={"channel": "filters", "error": "DRILL-9"})
    assert [int(i) for i in re.findall(r'/control/messages/(\d+)"', by_error.text)] == sorted(dead, reverse=True)
    by_key = viewer.get("/control/messages", params={"key": "FP-0"})
    assert re.findall(r'/control/messages/(\d+)"', by_key.text) == [str(pending[0])]
    # htmx asks for the rows alone
    rows = viewer.get("/control/messages", params={"channel": "filters"}, headers={"HX-Request": "true"})
    assert "<html" not in rows.text and rows.text.count("<tr>") == 3
    assert viewer.get("/control/messages", params={"state": "lost"}).status_code == 400


def test_retry_all_matching_touches_exactly_what_the_preview_named(hub):
    ids = hub.messages(3, channel="bulk", prefix="B", error="ERP offline for maintenance")
    hub.messages(2, channel="bulk", prefix="BOK", state="done", error=None)  # match the channel, not the state
    operator = hub.sign_in("operator")
    operator.get("/control/messages", params={"channel": "bulk"})
    preview = operator.post("/control/messages/preview", {"action": "retry", "channel": "bulk", "reason": ""})
    assert preview.status_code == 200
    assert re.search(r'exactly <strong id="n">(\d+)</strong>', preview.text).group(1) == "3"
    assert _ids_in(preview.text) == ids
    assert hub.states(ids) == ["dead"] * 3  # a preview changes nothing
    late = hub.messages(1, channel="bulk", prefix="BLATE")  # dies after the preview: not in it
    applied = operator.post("/control/messages/apply", {"action": "retry", "ids": ",".join(map(str, ids)),
                                                        "channel": "bulk", "scope": "filter",
                                                        "reason": "ERP back from maintenance"})
    assert applied.status_code == 200 and "Retried 3 message(s)" in applied.text
    assert hub.states(ids) == ["pending"] * 3 and hub.states(late) == ["dead"]
    row = _audit(hub, "retry")[-1]
    assert (row["actor"], row["count"], row["ids"], row["reason"]) == (
        "operator", 3, ",".join(map(str, ids)), "ERP back from maintenance")
    assert '"channel":"bulk"' in row["selection"] and '"previewed":3' in row["selection"]
    with hub.engine.connect() as conn:
        history = conn.execute(select(outbox_actions.c.message_id, outbox_actions.c.action, outbox_actions.c.actor)
                               .where(outbox_actions.c.message_id.in_(ids))).all()
    assert sorted(history) == [(i, "replay", "operator") for i in ids]
    assert "ERP back from maintenance" in operator.get("/control/audit").text


def test_one_message_set_done_and_discard_need_a_reason_and_skip_what_changed(hub):
    first, second = hub.messages(2, channel="single", prefix="S")
    operator = hub.sign_in("operator")
    detail = operator.get(f"/control/messages/{first}")
    assert "ERP refused: customer C9 unknown" in detail.text
    preview = operator.post("/control/messages/preview", {"action": "done", "id": str(first)})
    assert _ids_in(preview.text) == [first]
    no_reason = operator.post("/control/messages/apply", {"action": "done", "ids": str(first), "reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.text and hub.states([first]) == ["dead"]
    done = operator.post("/control/messages/apply", {"action": "done", "ids": str(first),
                                                     "reason": "entered in the ERP by hand"})
    assert "Set done 1 message(s)" in done.text and hub.states([first]) == ["done"]
    assert "entered in the ERP by hand" in operator.get(f"/control/messages/{first}").text  # its history
    # a previewed message whose state changed meanwhile is left alone, and said so
    discard = operator.post("/control/messages/apply", {"action": "discard", "ids": f"{first},{second}",
                                                        "reason": "duplicate order"})
    assert "Discarded 1 message(s)" in discard.text and re.search(rf'id="skipped">[^<]*\b{first}\b', discard.text)
    assert hub.states([first, second]) == ["done", "discarded"]
    assert [(r["count"], r["ids"]) for r in _audit(hub, "discard")][-1] == (1, str(second))


def test_a_preview_says_when_nothing_matches(hub):
    operator = hub.sign_in("operator")
    operator.get("/control/messages")
    nothing = operator.post("/control/messages/preview", {"action": "retry", "channel": "no-such-channel"})
    assert "nothing would be touched" in nothing.text and 'name="ids"' not in nothing.text


def test_probe_now_ends_the_lock_time_and_is_audited(hub):
    from erpbridge.outbox.semaphore import Semaphore

    Semaphore(hub.engine, "erp", 600).trip("connection refused (erp at http://127.0.0.1:9)")
    operator = hub.sign_in("operator")
    overview = operator.get("/control/")
    assert "offline" in overview.text and "connection refused (erp at http://127.0.0.1:9)" in overview.text
    assert "Probe now" in overview.text
    assert operator.post("/control/systems/erp/probe", {}).status_code == 303
    state = Semaphore(hub.engine, "erp", 600).state()
    assert state["offline_until"] is not None and not Semaphore(hub.engine, "erp", 600).is_offline()
    assert "probing" in operator.get("/control/").text
    row = _audit(hub, "probe")[-1]
    assert (row["actor"], row["target"], row["count"]) == ("operator", "system erp", 1)
    Semaphore(hub.engine, "erp", 600).reset()
