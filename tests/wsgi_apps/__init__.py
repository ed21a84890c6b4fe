"""WSGI applications and fakes for the WSGI adapter's tests (``tests/test_wsgi_*.py``)."""
