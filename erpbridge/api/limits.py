"""A request body size limit, enforced before the body is read into memory (413 beyond it).

Checks the declared ``Content-Length`` and also counts the bytes of a chunked body as they
arrive, so a client cannot get around the limit by not declaring it.
"""

from __future__ import annotations

from erpbridge.api.problems import problem_response


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(scope, receive, send)
        seen = 0
        started = refused = False

        async def counting_receive():
            # The framework may catch what receive raises (and answer 400), so the 413 is sent
            # here, before raising, and whatever the app sends afterwards is dropped.
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not refused:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            pass

    async def _refuse(self, scope, receive, send):
        response = problem_response(413, f"the request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)
