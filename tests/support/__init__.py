"""Plain helpers the tests share (no fixtures: those are in the conftest.py files, found by
pytest). A test module imports helpers from here, never from a conftest."""
