"""The README's code is run, so it cannot drift from what the code does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_opens_with_the_two_commands() -> None:
    first = README.read_text().split("```")[1]
    assert "pip install -e . && python -m driver" in first
    assert "pip install -e '.[test]' && pytest" in first
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && pytest" in ci


# Each block runs in a fresh interpreter, as a reader would run it: a block may change
# the process for good (h11compat.install() replaces h11 for every later import).
_RUN_BLOCK = """
import sys
block = sys.stdin.read()
namespace = {}
exec(compile(block, sys.argv[1], "exec"), namespace)
for name, value in list(namespace.items()):
    if name.startswith("test_") and callable(value):
        value()
if "app" in namespace:
    import driver

    request = driver.HTTPRequest(b"GET", b"/", (), b"1.0", b"", ("127.0.0.1", 1))
    reply = namespace["app"](request)
    assert reply.status == 200 and reply.body == b"hello\\n", reply
"""


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(block: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RUN_BLOCK, str(README)],
        input=block,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_there_are_blocks_to_run() -> None:
    assert len(BLOCKS) >= 3
