"""Instructions one inspection costs, counted by valgrind: a figure that does not drift with the machine.

    python bench/instructions.py CASE [CASE ...]

CASE is `catalog` (the 256 KiB benign body of `performance.py`), `1k` (an event of ten 1 KiB
bodies), or part of the name of one of `performance.py`'s hostile bodies (`'strings of %%'`).
Each case runs in a fresh interpreter under `valgrind --tool=callgrind`, which counts only the
second of two inspections of the same event (the first warms the caches). Wall time on a shared
machine moves by 10-20% between runs; this count moves by under 1%, now and then 3% (set orders follow the
per-process string hash), so it tells a change of the code from drift. About a minute per case.

Not for the RE2 screen: under valgrind it counts more instructions with the screen than without it
(ten 1 KiB records: 0.763 against 0.565 billion), while on the machine the screen halves the CPU
time (241-248 against 488-493 us per record). Compare changes to the screen by time, over several
runs; compare other changes with the screen on both sides.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _event(case: str) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "bench"))
    import performance

    rng = random.Random(3)
    if case == "catalog":
        return performance.sqs_event([performance.catalog_body(random.Random(1))], rng)
    if case == "1k":
        return performance.sqs_event([performance.order_body(rng) for _ in range(10)], rng)
    bodies = dict(performance.hostile_bodies(random.Random(1)))
    names = [name for name in bodies if case in name]
    if not names:
        raise SystemExit(f"no hostile body named like {case!r}")
    return performance.sqs_event([bodies[names[0]]], rng)


def _inner(case: str) -> None:
    sys.path.insert(0, str(ROOT))
    from firewall import Firewall
    from firewall.engine import screen

    # The screen stops after ALLOWANCE seconds of CPU per batch, and valgrind runs the code some 50
    # times slower: without this, the count would be of a screen that gave up half way.
    screen.ALLOWANCE = float("inf")
    firewall = Firewall.load()
    event = _event(case)
    firewall.inspect_event(event)
    # callgrind counts inside CPython's `exec` only (--toggle-collect=builtin_exec): the measured line
    # runs through it, after every import and the warm-up.
    exec("firewall.inspect_event(event)", {"firewall": firewall, "event": event})


def count(case: str) -> int:
    """Instructions of one inspection of `case`, counted in a fresh interpreter."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no",
        "--toggle-collect=builtin_exec", sys.executable, __file__, "--inner", case,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count for {case!r}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--inner":
        _inner(sys.argv[2])
        return 0
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    for case in sys.argv[1:]:
        print(f"{case}: {count(case) / 1e9:.3f} G instructions", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
