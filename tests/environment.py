"""Loaded by pytest before Django (see addopts): a test run is local use, so DEBUG may generate
the SECRET_KEY into the data folder. The test run still sees DEBUG off (pytest-django sets it)."""

import os

os.environ.setdefault("DEBUG", "true")
