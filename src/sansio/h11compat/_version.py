"""The h11 release whose API the facade stands in for (code may gate features on it)."""

__version__ = "0.16.0"
