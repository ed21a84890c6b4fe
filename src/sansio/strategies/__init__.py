"""Hypothesis strategies for HTTP/1.x wire bytes, each paired with what the core makes of it.

For people who embed the core in a loop or a framework and want to fuzz their own code.
Every generated message holds its exact wire bytes *and* the events a conforming parser
returns for them, so a property test needs no second parser. This module needs
Hypothesis (``pip install 'h10[strategies]'``); ``import sansio`` never imports it.

- ``requests()`` -> ``GeneratedRequest``: a valid request (HTTP/1.0 or 1.1; no body,
  Content-Length or chunked with extensions and trailers), its ``Request`` event, body,
  trailers and whether it asks to keep the connection alive.
- ``responses()`` -> ``GeneratedResponse``: a valid response to a given method
  (HEAD/204/304 without a body, Content-Length, chunked, close-delimited, 1xx first),
  with the ``Request`` a client must send before it can parse it.
- ``hostile_requests()`` -> ``HostileRequest``: bytes every conforming server rejects,
  named by smuggling class (``HOSTILE_CLASSES``) with the status it must answer.
- ``framing_fields()``: Content-Length, Transfer-Encoding and Connection fields, valid
  or not, for checking that what a writer sends a reader frames the same way.
- ``any_bytes()``, ``hostile_fields()``, ``hostile_methods()``, ``hostile_targets()``,
  ``hostile_reasons()``: values an application might hand to ``send``, from all 256
  byte values (CR, LF, NUL, controls, injections); ``send`` must refuse or round-trip them.
- ``chunkings(data)`` -> ``list[bytes]``: ``data`` cut at random points, never into an
  empty piece (``receive_data(b"")`` means EOF).

The package is split along these sections: ``_blocks`` (building blocks and
``coalesce``), ``_requests``, ``_responses``, ``_hostile`` (the table of smuggling
classes), ``_send`` (framing fields and hostile values for ``send``) and
``_segments`` (segmentations and near misses); every public name is re-exported here.

Example: whatever way a request is segmented, a server sees the same events::

    from hypothesis import given, strategies as st
    import sansio
    from sansio import strategies as hs

    @given(hs.requests(), st.data())
    def test_segmentation_does_not_matter(req, data):
        conn = sansio.Connection(sansio.SERVER)
        events = []
        for piece in data.draw(hs.chunkings(req.wire)):
            conn.receive_data(piece)
            events.extend(conn.events())
        assert hs.coalesce(events) == req.events

    @given(hs.hostile_requests())
    def test_smuggling_is_refused(bad):
        conn = sansio.Connection(sansio.SERVER)
        conn.receive_data(bad.wire)
        if bad.eof:
            conn.receive_data(b"")
        with pytest.raises(sansio.RemoteProtocolError) as info:
            list(conn.events())
        assert info.value.status_hint == bad.status_hint
"""

from ._blocks import coalesce, field_values, request_targets, tokens
from ._hostile import HOSTILE_CLASSES, HostileRequest, hostile_requests
from ._requests import GeneratedRequest, RequestFraming, requests
from ._responses import GeneratedResponse, ResponseFraming, responses
from ._segments import chunkings, mutations
from ._send import (
    any_bytes,
    framing_fields,
    hostile_fields,
    hostile_methods,
    hostile_reasons,
    hostile_targets,
)

__all__ = [
    "HOSTILE_CLASSES",
    "GeneratedRequest",
    "GeneratedResponse",
    "HostileRequest",
    "RequestFraming",
    "ResponseFraming",
    "any_bytes",
    "chunkings",
    "coalesce",
    "field_values",
    "framing_fields",
    "hostile_fields",
    "hostile_methods",
    "hostile_reasons",
    "hostile_requests",
    "hostile_targets",
    "mutations",
    "request_targets",
    "requests",
    "responses",
    "tokens",
]
