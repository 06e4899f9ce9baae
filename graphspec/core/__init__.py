"""The core: errors, shapes, field types, safe expressions, code text and file writing.

Imports nothing else of graphspec (tests/test_imports.py)."""
