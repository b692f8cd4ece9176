"""Webhook subscribers are public addresses (issue 10, item 11): the hub must not be made to POST
into the network it runs in (its own API, localhost, private ranges, the cloud metadata address).
Literal addresses and localhost are refused when the config loads; a name is checked against what
it resolves to at each delivery; ``allow_private_targets: true`` lets a system deliver anywhere."""

from __future__ import annotations

import socket

import pytest
import yaml

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, ConfigError, load_config
from erpbridge.connectors.webhooks import publish
from erpbridge.outbox.messages import list_messages
from erpbridge.outbox.worker import Worker

from .test_webhooks import SECRET, ShopReceiver

REFUSED = {
    "http://localhost:8080/api/v1/orders": "localhost is this machine (a loopback name)",
    "http://shop.localhost/hooks": "shop.localhost is this machine (a loopback name)",
    "http://127.0.0.1:8080/api/v1/orders": "127.0.0.1 is a loopback address",
    "http://[::1]/hooks": "::1 is a loopback address",
    "http://127.1/hooks": "127.0.0.1 is a loopback address",
    "http://2130706433/hooks": "127.0.0.1 is a loopback address",
    "http://[::ffff:127.0.0.1]/hooks": "127.0.0.1 is a loopback address",
    "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a link-local address",
    "http://[fe80::1]/hooks": "fe80::1 is a link-local address",
    "https://10.1.2.3/hooks": "10.1.2.3 is a private address",
    "https://192.168.0.10/hooks": "192.168.0.10 is a private address",
    "http://0.0.0.0:8080/hooks": "0.0.0.0 is the unspecified address",
    "http://100.64.0.1/hooks": "100.64.0.1 is not a public address",
}


def hooks(url: str, **system) -> dict:
    return {"connector": "webhooks", **system, "subscribers": [{"name": "shop", "url": url, "secret": SECRET}]}


@pytest.mark.parametrize("url", REFUSED)
def test_a_subscriber_on_a_private_address_or_localhost_is_refused_when_the_config_loads(tmp_path, url):
    path = tmp_path / "erpbridge.yaml"
    path.write_text(yaml.safe_dump({"systems": {"erp": {"connector": "files"}, "shop_hooks": hooks(url)}}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert str(refused.value) == (f"{path}: systems.shop_hooks: subscriber 'shop': {REFUSED[url]}; webhooks go to "
                                  "public addresses only, unless the system sets allow_private_targets: true")
    assert SECRET not in str(refused.value)
    allowed = Config.model_validate({"systems": {"erp": {"connector": "files"},
                                                 "shop_hooks": hooks(url, allow_private_targets=True)}})
    assert allowed.systems["shop_hooks"].subscribers[0].url == url


@pytest.mark.parametrize("url", ["https://shop.example.com/erpbridge/webhook", "http://93.184.215.14/hooks",
                                 "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks"])
def test_public_subscribers_load(url):
    Config.model_validate({"systems": {"erp": {"connector": "files"}, "shop_hooks": hooks(url)}})


def loopback_name() -> str:
    """A name of this machine that is not ``localhost`` and resolves to loopback addresses only."""
    for name in (socket.gethostname(), "localhost.localdomain", "ip6-localhost"):
        try:
            found = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
        except OSError:
            continue
        if found and all(a == "::1" or a.startswith("127.") for a in found):
            return name
    pytest.skip("no name of this machine resolves to loopback addresses only")


def deliver_one(db_url, receiver, **system) -> dict:
    port = receiver.server.server_address[1]
    url = f"http://{loopback_name()}:{port}/hooks"
    hub = bootstrap(Config.model_validate({"store": {"url": db_url}, "systems": {
        "erp": {"connector": "files"}, "shop_hooks": hooks(url, **system)}}))
    try:
        with hub.engine.begin() as conn:
            publish(conn, hub.config, "stock.changed", "SKU-1", {"skus": ["SKU-1"]})
        Worker(hub).drain()
        [message] = list_messages(hub.engine, channel="shop_hooks")
        return message
    finally:
        hub.close()


def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(db_url):
    receiver = ShopReceiver()
    try:
        message = deliver_one(db_url, receiver)
    finally:
        receiver.stop()
    assert receiver.events == [] and message["state"] == "pending" and message["attempts"] == 1
    name = loopback_name()
    assert message["last_error"].startswith(f"subscriber shop of system shop_hooks: refused {name}: 127.0.0.1 is a "
                                            "loopback address; webhooks go to public addresses only") or \
        message["last_error"].startswith(f"subscriber shop of system shop_hooks: refused {name}: ::1 is a loopback")


def test_with_private_targets_allowed_a_name_is_delivered_to_the_address_it_resolved_to(db_url):
    receiver = ShopReceiver()
    try:
        message = deliver_one(db_url, receiver, allow_private_targets=True)
    finally:
        receiver.stop()
    assert message["state"] == "done", message["last_error"]
    [(headers, _body)] = receiver.raw
    assert headers["Host"] == f"{loopback_name()}:{receiver.server.server_address[1]}"
