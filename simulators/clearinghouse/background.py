"""The clearinghouse simulator served over real HTTP inside the caller's event loop, for tests and
benchmarks: ``async with running_clearinghouse(members) as base_url:`` answers 270s at
``{base_url}/x12/270``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import uvicorn

from simulators.clearinghouse.app import create_app

STARTUP_TIMEOUT_SECONDS = 10.0
# A member with behaviour "delay" may still be sleeping at shutdown; do not wait it out.
GRACEFUL_SHUTDOWN_SECONDS = 1


@contextlib.asynccontextmanager
async def running_clearinghouse(members: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[str]:
    """Serve the simulator for ``members`` (member id -> record) on a free local port until the
    block ends."""
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off only on sockets whose protocol
    # says TCP, and with it on every answer waited ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the port is ours from here on: no race with other servers
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(members), log_config=None, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="clearinghouse-simulator")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
                raise RuntimeError("the clearinghouse simulator stopped before it started")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the clearinghouse simulator did not start in {STARTUP_TIMEOUT_SECONDS}s")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listener.close()
