"""Summarise a py-spy profile: the functions with the most samples, self and inclusive.

``python -m bench.profile_summary PROFILE.txt [--top 25] [--filter mjapi/]``

``PROFILE.txt`` is py-spy's collapsed-stack output (``py-spy record -f raw``; what
``bench.latency`` and ``bench.scale`` write with ``--profile``): one line per distinct stack,
``frame;frame;...;frame <samples>``. py-spy is a profiling aid, not a project dependency
(``pip install py-spy`` into the venv).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: "function (path/to/file.py:123)" -> "function (file.py)", so that lines of one function merge
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^:()]+)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("path")
    if "site-packages/" in path:
        short = path.split("site-packages/", 1)[1]
    elif "mjapi/" in path:
        short = "mjapi/" + path.split("mjapi/", 1)[1]
    else:
        short = "/".join(path.split("/")[-2:])
    return f"{match.group('func')} ({short})"


def summarise(text: str, keep: str = "") -> tuple[int, Counter[str], Counter[str]]:
    """(total samples, self samples per function, inclusive samples per function)."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] += samples
        for name in set(frames):
            if keep in name:
                inclusive[name] += samples
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--filter", default="", help="inclusive list: only frames containing this")
    args = parser.parse_args()
    total, own, inclusive = summarise(args.profile.read_text(), args.filter)
    print(f"{total} samples")
    print("\nself (where the CPU was):")
    for name, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("\ninclusive (time under the function):")
    for name, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
