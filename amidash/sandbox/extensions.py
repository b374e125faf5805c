"""Extensions and corrections to moto, installed once per process (idempotent)."""

_installed = False


def install_extensions() -> None:
    global _installed
    if _installed:
        return
    _installed = True
