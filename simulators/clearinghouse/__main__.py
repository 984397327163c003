"""Serve the clearinghouse simulator: ``python -m simulators.clearinghouse --port 8090``."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from simulators.clearinghouse.app import BUNDLED_MEMBERS, create_app, load_members


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.clearinghouse",
        description="A stand-in clearinghouse: answers X12 270s with 271s from made-up members.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8090, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--members",
        type=Path,
        default=BUNDLED_MEMBERS,
        help="TOML file of [[members]] records (default: the bundled members.toml)",
    )
    arguments = parser.parse_args()
    uvicorn.run(
        create_app(load_members(arguments.members)), host=arguments.host, port=arguments.port
    )


if __name__ == "__main__":
    main()
