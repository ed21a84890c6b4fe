"""Fuzz targets over the sansio core; see fuzz/README.md."""
