"""The floor under ``h11compat.py``'s parse target: the core alone, the core keeping raw
header names (what the facade needs for h11's ``Headers.raw_items()``), the facade, and
h11, all through ``parse.py``'s one runner loop, in one process.

    python bench/h11compat_floor.py

If "h11 / core+raw" is below the target on a corpus, no facade over the core as it is
can meet the target there: it pays the raw names before it wraps anything.
"""

from __future__ import annotations

import functools
import timeit
from types import SimpleNamespace

import h11
from parse import CORPORA, event_runners, h11_runners

import sansio
from sansio import h11compat

REPEAT = 7


def main() -> None:
    response = sansio.Response(200, ((b"content-length", b"0"),))
    names = {name: getattr(sansio, name) for name in sansio.__all__}
    names["Connection"] = functools.partial(sansio.Connection, keep_raw_names=True)
    raw_core = SimpleNamespace(**names)
    runners = {
        "core": event_runners(sansio, response, "core"),
        "core+raw": event_runners(raw_core, response, "core+raw"),
        "facade": h11_runners(h11compat),
        "h11": h11_runners(h11),
    }
    print("us per request, min of", REPEAT, "repeats")
    print(f"{'corpus':18s}" + "".join(f"{k:>10s}" for k in runners) + "  h11/facade  h11/core+raw")
    for corpus in CORPORA:
        requests = corpus.expected[0]
        calls = 20_000 if requests == 1 else 5
        times = {}
        for name, runner in runners.items():
            run = runner[corpus.mode]
            best = min(
                timeit.repeat(functools.partial(run, corpus.data), number=calls, repeat=REPEAT)
            )
            times[name] = best / (calls * requests) * 1e6
        print(
            f"{corpus.name:18s}"
            + "".join(f"{times[k]:10.2f}" for k in runners)
            + f"  {times['h11'] / times['facade']:9.2f}x {times['h11'] / times['core+raw']:11.2f}x"
        )


if __name__ == "__main__":
    main()
