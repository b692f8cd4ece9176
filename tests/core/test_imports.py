"""What every CLI call pays for: loading the config and the command must not import the web
framework (FastAPI, uvicorn), which cost a second per call when the config imported the API."""

from __future__ import annotations

import subprocess
import sys


def test_the_config_and_the_cli_load_without_the_web_framework():
    probe = ("import sys; import erpbridge.config, erpbridge.cli; "
             "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
