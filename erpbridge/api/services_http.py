"""Service errors as HTTP problems: rejected 422 (with field paths), conflict 409, not found 404."""

from __future__ import annotations

from contextlib import contextmanager

from erpbridge.api.problems import Problem
from erpbridge.services.errors import Conflict, NotFound, Rejected


@contextmanager
def service_errors():
    try:
        yield
    except Rejected as exc:
        raise Problem(422, str(exc), errors=[{"in": "body", "path": p, "message": m} for p, m in exc.errors]) from None
    except Conflict as exc:
        raise Problem(409, str(exc)) from None
    except NotFound as exc:
        raise Problem(404, str(exc)) from None
