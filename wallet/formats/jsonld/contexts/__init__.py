"""Bundled JSON-LD context files (package data; see SOURCES.md). Never fetched at run time."""
