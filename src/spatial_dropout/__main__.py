"""Command line: ``python -m spatial_dropout demo`` and ``--version``."""

from __future__ import annotations

import argparse
import sys

from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spatial_dropout", description="Channel-wise dropout, demonstrated."
    )
    parser.add_argument("--version", action="version", version=f"spatial-dropout {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the seed's dropout2d examples on NumPy")
    demo.add_argument("--seed", type=int, default=0, help="seed of the global stream (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from . import _demo

        _demo.run(args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
