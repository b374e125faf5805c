import pytest

from amidash.sandbox import sandbox


@pytest.fixture
def aws():
    """The sandbox, in-process. (Server mode is added as a second parameter.)"""
    with sandbox() as handle:
        yield handle
