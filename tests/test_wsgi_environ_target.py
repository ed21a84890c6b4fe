"""``PATH_INFO`` and ``QUERY_STRING`` come from ``sansio.target_path``, whatever the form of
the target: an absolute-form target gives its URI's path, whatever the case of its scheme,
and a fragment is no part of either."""

from __future__ import annotations

import pytest

from driver.app import HTTPRequest
from driver.wsgi.environ import EnvironBuilder


@pytest.mark.parametrize(
    ("target", "path_info", "query_string"),
    [
        (b"/a%20b/c?x=1", "/a b/c", "x=1"),
        (b"http://h/a?b", "/a", "b"),
        (b"HTTP://H/Admin?q=%41", "/Admin", "q=%41"),
        (b"https://h", "/", ""),
        (b"http://h?x", "/", "x"),
        (b"/page#section?no", "/page", ""),
        (b"/p?q#frag", "/p", "q"),
        (b"*", "*", ""),
        (b"example.com:443", "", ""),
    ],
)
def test_path_info_and_query_string_of_every_target_form(
    target: bytes, path_info: str, query_string: str
) -> None:
    build = EnvironBuilder(server_name="h", server_port="80", multithread=False, multiprocess=False)
    request = HTTPRequest(b"GET", target, ((b"host", b"h"),), b"1.1", b"", ("127.0.0.1", 1))
    environ = build(request, None)
    assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == (path_info, query_string)
