"""``--wsgi MODULE:APP`` loading, and the thread pool the adapter runs applications on."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driver.app_loader import AppLoadError, load_app
from driver.wsgi.threadpool import ThreadPool


@pytest.fixture
def app_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "goodapp.py").write_text(
        textwrap.dedent(
            """
            def application(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok"]

            class Holder:
                app = application

            app = application
            number = 42
            """
        )
    )
    (tmp_path / "brokenapp.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "raisingapp.py").write_text("raise RuntimeError('startup failed')\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "wsgi.py").write_text("from goodapp import application\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("goodapp", "brokenapp", "raisingapp", "pkg", "pkg.wsgi"):
        sys.modules.pop(name, None)


def test_loads_module_attribute_forms(app_modules: Path) -> None:
    good = load_app("goodapp:app")
    assert load_app("goodapp") is good  # "application" by default
    assert load_app("goodapp:Holder.app") is good
    assert load_app("pkg.wsgi:application") is good


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmod_xyz:app", "no module named 'nosuchmod_xyz'"),
        ("pkg.nosuch:app", "no module named 'pkg.nosuch'"),
        ("nosuchpkg_xyz.wsgi:app", "no module named 'nosuchpkg_xyz'"),
        ("goodapp:missing", "'goodapp' has no attribute 'missing'"),
        ("goodapp:Holder.missing", "has no attribute 'Holder.missing'"),
        ("goodapp:number", "'number' is not callable (it is int)"),
        ("goodapp:", "nothing after ':'"),
        ("bad format", "expected MODULE:APP"),
        ("a:b:c", "expected MODULE:APP"),
        (":app", "expected MODULE:APP"),
        ("goodapp:app()", "expected MODULE:APP"),
        ("", "expected MODULE:APP"),
    ],
)
def test_loading_mistakes_are_one_line_errors(app_modules: Path, spec: str, message: str) -> None:
    with pytest.raises(AppLoadError) as info:
        load_app(spec)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert info.value.__cause__ is None


def test_errors_inside_the_app_module_propagate_with_their_traceback(app_modules: Path) -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        load_app("brokenapp:app")
    with pytest.raises(RuntimeError, match="startup failed"):
        load_app("raisingapp:app")


# -- the thread pool ---------------------------------------------------------------------


def test_pool_grows_only_when_every_thread_is_busy() -> None:
    pool = ThreadPool(4, "t")
    done = threading.Event()
    for _ in range(10):  # sequential jobs: one thread is enough
        done.clear()
        pool.submit(done.set)
        assert done.wait(5)
        time.sleep(0.01)  # let the thread go back to waiting
    assert pool.threads == 1
    assert pool.shutdown(5)


def test_pool_runs_up_to_size_jobs_at_once_and_queues_the_rest() -> None:
    pool = ThreadPool(3, "t")
    release = threading.Event()
    running = threading.Semaphore(0)
    finished: list[int] = []

    def job(i: int) -> None:
        running.release()
        release.wait(5)
        finished.append(i)

    for i in range(5):
        pool.submit(lambda i=i: job(i))  # type: ignore[misc]
    for _ in range(3):
        assert running.acquire(timeout=5)
    assert not running.acquire(timeout=0.2)  # the 4th waits for a free thread
    assert pool.threads == 3
    release.set()
    assert pool.shutdown(5)
    assert sorted(finished) == [0, 1, 2, 3, 4]


def test_a_job_that_raises_is_logged_and_the_thread_lives_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ThreadPool(1, "t")
    done = threading.Event()

    def bad() -> None:
        raise ValueError("job failed")

    pool.submit(bad)
    pool.submit(done.set)
    assert done.wait(5)
    assert pool.threads == 1
    assert pool.shutdown(5)
    assert "job failed" in caplog.text


def test_shutdown_is_bounded_by_a_stuck_job() -> None:
    pool = ThreadPool(2, "t")
    stuck = threading.Event()
    pool.submit(lambda: stuck.wait(30))
    started = time.monotonic()
    assert pool.shutdown(0.2) is False
    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    stuck.set()


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ThreadPool(0)
