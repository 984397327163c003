"""python -m shared.contracts export|check [--dir PATH]

export  write the JSON Schema of every event of every service in the catalogue, delete stale files
check   exit 1 and list the drifted, missing and stale files if they differ from the code
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.contracts import check, export, load_catalogue
from shared.events import CONTRACTS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.contracts", description="Export or check the event contracts."
    )
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("--dir", type=Path, default=CONTRACTS_DIR, help="the contracts folder")
    arguments = parser.parse_args(argv)
    registries = load_catalogue()

    if arguments.command == "export":
        changes = export(registries, arguments.dir)
        done = {"rewrote": changes.drifted, "wrote": changes.missing, "deleted": changes.stale}
        for verb, paths in done.items():
            for path in paths:
                print(f"{verb} {arguments.dir / path}")
        print(f"contracts in {arguments.dir} are up to date")
        return 0

    drift = check(registries, arguments.dir)
    if drift:
        for line in drift.lines():
            print(line)
        print("run `python -m shared.contracts export` and commit the result", file=sys.stderr)
        return 1
    print(f"contracts in {arguments.dir} match the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
