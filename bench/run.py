"""`make bench`: run the benchmarks (all, or those named), print the table, write the results.

    uv run python -m bench.run                 # every benchmark
    uv run python -m bench.run kafka_baselines # just one
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from bench.harness import bench_context, format_table, write_performance_doc, write_results


def available() -> list[str]:
    folder = Path(__file__).parent
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(folder)])
                  if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(available())})")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = set(names) - set(available())
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    failed = False
    with bench_context() as ctx:
        for name in names:
            module = importlib.import_module(f"bench.bench_{name}")
            print(f"\n== {name}", flush=True)
            figures, profile = module.run(ctx)
            print(format_table(figures), flush=True)
            write_results(name, figures, profile)
            failed |= any(f.details.get("correct") is False for f in figures)
    print(f"\nwrote {write_performance_doc()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
