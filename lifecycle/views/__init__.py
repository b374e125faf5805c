"""Lifecycle views: requests and the audit log."""

from lifecycle.views.audit import (
    audit_event,
    audit_export,
    audit_log,
    audit_report,
    audit_verification,
    audit_verify,
    audit_verify_full,
    image_timeline,
    request_timeline,
)
from lifecycle.views.requests import request_list

__all__ = [
    "audit_event",
    "audit_export",
    "audit_log",
    "audit_report",
    "audit_verification",
    "audit_verify",
    "audit_verify_full",
    "image_timeline",
    "request_list",
    "request_timeline",
]
