"""The README's code is run, so it cannot drift from what the code does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_opens_with_the_two_commands() -> None:
    first = README.read_text().split("```")[1]
    assert "pip install -e . && python -m driver" in first
    assert "pip install -e '.[test]' && pytest" in first
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && pytest" in ci


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(block: str) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block, str(README), "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value()
    if "app" in namespace:
        import driver

        request = driver.HTTPRequest(b"GET", b"/", (), b"1.0", b"", ("127.0.0.1", 1))
        reply = namespace["app"](request)
        assert reply.status == 200 and reply.body == b"hello\n"


def test_there_are_blocks_to_run() -> None:
    assert len(BLOCKS) >= 3
