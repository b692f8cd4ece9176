"""An outbox worker in its own process, delivering into Tryton, for the test that SIGKILLs it.

usage: worker_process.py CONFIG    (runs ``Worker.run`` until no message is pending or running)
"""

from __future__ import annotations

import sys
import threading
import time

from sqlalchemy import func, select

from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker


def main(config: str) -> None:
    app = bootstrap(load_config(config), migrate=False)
    stop = threading.Event()

    def stop_when_idle() -> None:
        while not stop.is_set():
            time.sleep(0.2)
            with app.engine.connect() as conn:
                if not conn.execute(select(func.count()).where(m.c.state.in_(("pending", "running")))).scalar_one():
                    stop.set()

    threading.Thread(target=stop_when_idle, daemon=True).start()
    Worker(app).run(stop)  # the Tryton connector comes from the config, as in `erpbridge worker`


if __name__ == "__main__":
    main(sys.argv[1])
