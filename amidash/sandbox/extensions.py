"""Extensions and corrections to moto, installed once per process (idempotent)."""

_installed = False


def install_extensions() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from amidash.sandbox.faults import install_fault_hook; install_fault_hook()  # noqa: E702, I001
