"""The sandbox as an HTTP server: moto's WSGI app plus a JSON control endpoint under /_sandbox/.

Control endpoint (JSON in and out; errors are ``{"error": "..."}`` with HTTP 400 or 404):

================================  ==============================================================
``GET  /_sandbox/health``          ``{"ok": true}``
``POST /_sandbox/reset``           fresh state (backends, faults, clock, call log)
``GET  /_sandbox/faults``          ``{"faults": [...]}``
``POST /_sandbox/faults``          ``{"kind": "throttle", "share": 0.5, ...}`` -> the fault
``DELETE /_sandbox/faults``        switch every fault off
``DELETE /_sandbox/faults/<id>``   switch one fault off
``GET  /_sandbox/clock``           ``{"now": "<ISO 8601>"}``
``POST /_sandbox/clock``           ``{"advance": seconds}`` -> ``{"now": ...}``
``GET  /_sandbox/estate``          ``{"estate": <summary or null>}``
``POST /_sandbox/estate``          ``{"name": "demo", "seed": 42}`` -> the summary
``GET  /_sandbox/calls``           ``?action=&account_id=&region=&service=`` -> ``{"calls": [...]}``
``DELETE /_sandbox/calls``         empty the call log
``POST /_sandbox/outside-changes`` the estate's engineers change images by hand -> what and when
================================  ==============================================================
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from amidash.sandbox import calls as call_log
from amidash.sandbox import clock, faults, runtime

CONTROL_PREFIX = "/_sandbox/"
MAX_CONTROL_BODY = 1_000_000

StartResponse = Callable[..., Any]


class ControlError(Exception):
    """A control request that cannot be served; answered with its status and message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SandboxApplication:
    """WSGI middleware: answers /_sandbox/ itself and passes everything else to moto."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]]) -> None:
        self.moto_app = moto_app
        # Control operations that replace state (reset, estate) must not interleave.
        self.state_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return self.control(environ, start_response)
        try:
            return self.moto_app(environ, start_response)
        except faults.SimulatedConnectionDrop:
            # A Region outage at the connection level: close the socket without an answer.
            connection = environ.get("werkzeug.socket")
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            raise

    def control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX) :].strip("/")
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING")).items()}
        try:
            payload = _read_json(environ) if method in ("POST", "PUT") else {}
            status, answer = 200, self.dispatch(method, path, payload, query)
        except ControlError as error:
            status, answer = error.status, {"error": str(error)}
        except (faults.FaultError, ValueError, TypeError) as error:
            status, answer = 400, {"error": str(error)}
        body = json.dumps(answer, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
        start_response(
            f"{status} {reason.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def dispatch(
        self, method: str, path: str, payload: dict[str, Any], query: dict[str, str]
    ) -> dict[str, Any]:
        route = path.split("/")[0].replace("-", "_")
        handler = getattr(self, f"_{route}", None) if route.isidentifier() else None
        if handler is None:
            raise ControlError(f"no control operation /_sandbox/{path}", status=404)
        return handler(method, path, payload, query)

    def _health(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        return {"ok": True}

    def _reset(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        _require(method, "POST")
        with self.state_lock:
            runtime.reset_state()
        return {"ok": True}

    def _faults(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        parts = path.split("/")
        if method == "GET":
            return {"faults": faults.active_faults()}
        if method == "POST":
            options = dict(payload)
            kind = options.pop("kind", None)
            if not isinstance(kind, str):
                raise ControlError(f"a fault needs a kind: one of {', '.join(faults.FAULT_KINDS)}")
            return faults.add_fault(kind, **options)
        if method == "DELETE" and len(parts) == 2:
            if not parts[1].isdigit() or not faults.remove_fault(int(parts[1])):
                raise ControlError(f"no active fault {parts[1]!r}", status=404)
            return {"ok": True}
        _require(method, "DELETE")
        faults.clear_faults()
        return {"ok": True}

    def _clock(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        if method == "POST":
            seconds = payload.get("advance")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ControlError('POST /_sandbox/clock needs {"advance": seconds}')
            return {"now": clock.advance(seconds).isoformat()}
        _require(method, "GET")
        return {"now": clock.now().isoformat()}

    def _estate(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        if method == "POST":
            name, seed = payload.get("name", "demo"), payload.get("seed", 42)
            if not isinstance(name, str) or isinstance(seed, bool) or not isinstance(seed, int):
                raise ControlError('POST /_sandbox/estate needs {"name": str, "seed": int}')
            with self.state_lock:
                return runtime.load_estate_state(name, seed)
        _require(method, "GET")
        return {"estate": runtime.estate_summary()}

    def _calls(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        if method == "DELETE":
            call_log.clear()
            return {"ok": True}
        _require(method, "GET")
        criteria = {key: query.get(key) for key in ("action", "account_id", "region", "service")}
        include_faulted = query.get("include_faulted", "true").lower() != "false"
        return {"calls": call_log.calls(**criteria, include_faulted=include_faulted)}

    def _image_recipes(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        _require(method, "POST")
        options = {key: payload.get(key) for key in ("account_id", "region", "name")}
        options["parent_image"] = payload.get("parent_image")
        if not all(isinstance(value, str) and value for value in options.values()):
            raise ControlError("an image recipe needs account_id, region, name and parent_image")
        with self.state_lock:
            arn = runtime.add_image_recipe_state(
                **options, container=bool(payload.get("container"))
            )
        return {"arn": arn}

    def _image_findings(self, method: str, path: str, payload: dict, query: dict) -> dict[str, Any]:
        _require(method, "POST")
        options = {key: payload.get(key) for key in ("account_id", "region", "image_id")}
        findings = payload.get("findings")
        if not all(isinstance(value, str) for value in options.values()):
            raise ControlError("image findings need account_id, region and image_id")
        if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
            raise ControlError("findings must be a list of objects")
        with self.state_lock:  # a ValueError (no such image, bad finding) answers 400
            return {"count": runtime.set_image_findings_state(**options, findings=findings)}

    def _outside_changes(
        self, method: str, path: str, payload: dict, query: dict
    ) -> dict[str, Any]:
        _require(method, "POST")
        with self.state_lock:
            return runtime.make_outside_changes_state()


def _require(method: str, expected: str) -> None:
    if method != expected:
        raise ControlError(f"use {expected} for this control operation", status=405)


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as error:
        raise ControlError("bad Content-Length") from error
    if length > MAX_CONTROL_BODY:
        raise ControlError("control request too large")
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise ControlError(f"the body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise ControlError("the body must be a JSON object")
    return payload


def make_app() -> SandboxApplication:
    """moto's multi-service WSGI app (as ThreadedMotoServer builds it) behind the control layer."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    runtime.install()
    return SandboxApplication(DomainDispatcherApplication(create_backend_app))


def make_sandbox_server(host: str = "127.0.0.1", port: int = 5055) -> Any:
    """A threaded werkzeug server for the sandbox, bound but not yet serving."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    return make_server(host, port, make_app(), threaded=True, request_handler=MotoRequestHandler)
