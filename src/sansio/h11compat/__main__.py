"""``python -m sansio.h11compat MODULE [ARGS...]``: run MODULE as ``python -m MODULE``
would, with the facade installed in place of h11 first.

    python -m sansio.h11compat uvicorn app:app --http h11
"""

from __future__ import annotations

import runpy
import sys

from . import install


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m sansio.h11compat MODULE [ARGS...]", file=sys.stderr)
        return 2
    install()
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
