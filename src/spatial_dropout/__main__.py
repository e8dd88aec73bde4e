"""Command line: ``python -m spatial_dropout demo`` and ``--version``."""

from __future__ import annotations

import argparse
import sys

from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m spatial_dropout", description="Channel-wise dropout, demonstrated."
    )
    parser.add_argument("--version", action="version", version=f"spatial-dropout {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the seed's dropout2d examples on NumPy")
    demo.add_argument("--seed", type=int, default=0, help="seed of the global stream (default 0)")
    demo.add_argument("--picture", default="dropout2d_demo.png", help="PNG to write ('' for none)")
    bench = sub.add_parser("bench", help="benchmark against PyTorch and the bandwidth limit")
    bench.add_argument("--reps", type=int, default=15, help="repetitions per candidate (>= 15)")
    bench.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    bench.add_argument("--json", metavar="PATH", default=None, help="also save results as JSON")
    bench.add_argument("--quick", action="store_true", help="three shapes only")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from . import _demo

        _demo.run(args.seed, args.picture or None)
    elif args.command == "bench":
        from . import _bench

        shapes = _bench.SEED_SHAPES[:2] + _bench.SEED_SHAPES[4:5] if args.quick else None
        _bench.run(args.reps, args.threads, shapes, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
