"""The clearinghouse simulator served over real HTTP for tests: ``async with
running_clearinghouse(members) as base_url:`` answers 270s at ``{base_url}/x12/270``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import uvicorn

from simulators.clearinghouse.app import create_app
from tests.polling import eventually

STARTUP_TIMEOUT_SECONDS = 10.0
# A member with behaviour "delay" may still be sleeping at shutdown; do not wait it out.
GRACEFUL_SHUTDOWN_SECONDS = 1


@contextlib.asynccontextmanager
async def running_clearinghouse(members: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[str]:
    """Serve the simulator for ``members`` (member id -> record) on a free local port, in this
    event loop, until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the port is ours from here on: no race with other tests
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(members),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="clearinghouse-simulator")

    async def started() -> bool:
        if serving.done():
            serving.result()  # raises what stopped it
            raise RuntimeError("the clearinghouse simulator stopped before it started")
        return server.started

    try:
        await eventually(
            started,
            timeout=STARTUP_TIMEOUT_SECONDS,
            interval=0.01,
            message="the clearinghouse simulator did not start",
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listener.close()
