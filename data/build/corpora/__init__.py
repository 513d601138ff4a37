"""Parsers that turn downloaded Debian/npm/PyPI packages into plain records (see build_data.py)."""
