"""`python -m simulators.mailbox --port 1025 --directory .run/mail`: an SMTP server for
development that keeps every message it is given as an .eml file instead of delivering it, so
`make run` can send invoices and statements without a real mail relay. Clearly a stand-in: point
INVOICING_SMTP_HOST/PORT at the organisation's relay in any real deployment.

Mail to an address at ``bounce.example`` is refused with 550, to try what a bounce does."""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

BOUNCING_DOMAIN = "bounce.example"


class KeepMessages:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.lower().endswith("@" + BOUNCING_DOMAIN):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        path = self.directory / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        print(f"kept mail to {', '.join(envelope.rcpt_tos)} in {path}", flush=True)
        return "250 2.0.0 kept"


async def serve(port: int, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(KeepMessages(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"development mailbox on 127.0.0.1:{port}, keeping mail in {directory}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopped.set)
    try:
        await stopped.wait()
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--directory", type=Path, default=Path(".run/mail"))
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.port, arguments.directory))


if __name__ == "__main__":
    main()
