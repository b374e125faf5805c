"""Loaded by pytest before Django (see addopts).

A test run is local use, so DEBUG may generate the SECRET_KEY into the data folder (the tests still
see DEBUG off: pytest-django sets it). Tasks that tests queue on the default filesystem broker go to
a folder of this run, never to the demo's queue under the data folder. The audit signing key of
the run is in a folder of its own too; ``tests/conftest.py`` creates it, as an operator would with
``manage.py create_audit_key``.
"""

import os
import tempfile

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("AMIDASH_BROKER_DIR", tempfile.mkdtemp(prefix="amidash-test-broker-"))
os.environ.setdefault(
    "AMIDASH_AUDIT_SIGNING_KEY_FILE",
    os.path.join(tempfile.mkdtemp(prefix="amidash-test-key-"), "audit-signing-key.pem"),
)
