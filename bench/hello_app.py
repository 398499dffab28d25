"""A bare ASGI app served by the same uvicorn stack: the ceiling of server + load generator.

If wrk cannot drive this at several times Cartdesk's figures, the benchmark measures
the load generator, not Cartdesk.
"""

BODY = b'{"hello":"world"}'


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"17")]})
    await send({"type": "http.response.body", "body": BODY})
