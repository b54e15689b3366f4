"""Card parsing benchmark: hostile and large model cards, timed (not part of CI; prints figures).

Cases: a ~500-byte "billion laughs" alias bomb, a recursive alias, a 9,900-line front matter (just under the
line limit), Meta's Llama 3 style card with the license quoted in ``extra_gated_prompt``, a 3 KB heading line
(the old first-heading regex ``^#\\s+(.+?)\\s*#*\\s*$`` took ~22 s on one, see issue 11), and a 5-million-line
front matter refused by the card size cap. Every figure is the best of ``--repeat`` runs.

Run:  python benchmarks/bench_cards.py [--repeat 3] [--old-regex]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from provenance.cards import first_heading, parse_card, read_card
from provenance.errors import InputError

BOMB = "".join(
    f"{c}: &{c} [" + ", ".join([f"*{p}"] * 9 if p else ['"lol"'] * 9) + "]\n"
    for p, c in zip([None, *"abcdefgh"], "abcdefghi")
)
HEADING = "# a" + " " * 3000 + "x"  # spaces then a non-space: the old regex splits the run every way


def best(fn, repeat: int) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        try:
            fn()
            outcome = "parsed"
        except InputError as exc:
            outcome = "refused: " + exc.problem
        times.append(time.perf_counter() - t)
    return min(times), outcome


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old-regex", action="store_true", help="also time the old heading regex (slow: ~20 s)")
    args = ap.parse_args()
    big = "---\n" + "".join(f"k{i}: value number {i}\n" for i in range(9_900)) + "---\n# x\n"
    with tempfile.TemporaryDirectory() as tmp:
        huge = Path(tmp) / "README.md"
        huge.write_text("---\n" + "a: 1\n" * 5_000_000 + "---\n# x\n")
        cases = [
            (f"billion laughs ({len(BOMB)} bytes)", lambda: parse_card("---\n" + BOMB + "---\n")),
            ("recursive alias", lambda: parse_card("---\na: &a [*a]\n---\n")),
            (f"9,900-line front matter ({len(big) // 1024} KB)", lambda: parse_card(big)),
            ("3 KB heading line (first heading)", lambda: first_heading(parse_card(HEADING))),
            ("5,000,000-line front matter (25 MB file)", lambda: read_card(Path(tmp))),
        ]
        print(f"{'case':48} {'best s':>9}  outcome")
        for name, fn in cases:
            secs, outcome = best(fn, args.repeat)
            print(f"{name:48} {secs:9.4f}  {outcome[:70]}")
    if args.old_regex:
        t = time.perf_counter()
        re.search(r"^#\s+(.+?)\s*#*\s*$", HEADING, re.M)
        print(f"{'old heading regex on the 3 KB line':48} {time.perf_counter() - t:9.4f}")


if __name__ == "__main__":
    main()
