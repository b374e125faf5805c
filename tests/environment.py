"""Loaded by pytest before Django (see addopts).

A test run is local use, so DEBUG may generate the SECRET_KEY into the data folder (the tests still
see DEBUG off: pytest-django sets it). Tasks that tests queue on the default filesystem broker go to
a folder of this run, never to the demo's queue under the data folder.
"""

import os
import tempfile

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("AMIDASH_BROKER_DIR", tempfile.mkdtemp(prefix="amidash-test-broker-"))
