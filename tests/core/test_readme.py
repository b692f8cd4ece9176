"""The README's configuration examples are valid configs (with the connectors they name installed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from erpbridge.config import Config
from erpbridge.connectors import registry

README = Path(__file__).parents[2] / "README.md"


def test_the_readmes_config_examples_validate(monkeypatch):
    monkeypatch.setenv("TRYTON_PASSWORD", "x")
    monkeypatch.setenv("PGPASSWORD", "x")
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    checked = 0
    for block in blocks:
        raw = yaml.safe_load(block)
        if not isinstance(raw, dict) or not ({"store", "systems", "catalog"} & set(raw)):
            continue  # a part of a section (mappings...), shown on its own
        connectors = {s.get("connector") for s in (raw.get("systems") or {}).values()}
        if connectors - set(registry.installed()):
            continue  # an example of a connector package that is not installed here
        raw = yaml.safe_load(re.sub(r"\$\{(\w+)\}", "x", block))
        Config.model_validate(raw)
        checked += 1
    assert checked >= 1
