"""Extensions and corrections to moto, installed once per process (idempotent).

Each module patches one area as AWS behaves (docs/architecture.md, "AWS behaviours"): `images`
(the AMI lifecycle), `cloudtrail` (management events of EC2 mutations, LookupEvents),
`findings` (GetImageFindings), `lineage` (GetImageAncestry), `pagination` (MaxResults /
NextToken on every listing), `rbin` (Recycle Bin), `references` (DescribeImageReferences),
`allowed_images` (Allowed AMIs settings and DescribeInstanceImageMetadata), `regions`
(DescribeRegions), `sts` (AssumeRole rules) and `usage_reports` (AMI usage reports: how other
accounts use an image). The same
code serves the in-process sandbox and the server, so both behave identically.
"""

from __future__ import annotations

import threading

from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
from amidash.sandbox.extensions.images import (
    set_creation_date,
    set_deprecation_time,
    set_deregistration_protection,
    set_last_launched_time,
    set_root_volume_size,
)

__all__ = [
    "install_extensions",
    "set_allowed_images_setting",
    "set_creation_date",
    "set_deprecation_time",
    "set_deregistration_protection",
    "set_last_launched_time",
    "set_root_volume_size",
]

_lock = threading.Lock()
_installed = False


def install_extensions() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from amidash.sandbox.extensions import (
            allowed_images,
            cloudtrail,
            findings,
            images,
            lineage,
            pagination,
            rbin,
            references,
            regions,
            sts,
            usage_reports,
        )

        modules = (
            pagination,
            images,
            allowed_images,
            rbin,
            references,
            lineage,
            findings,
            regions,
            sts,
            usage_reports,
            cloudtrail,
        )
        for module in modules:
            module.install()
        try:
            from amidash.sandbox import faults
        except ImportError:  # the fault hook is optional while the sandbox is being assembled
            faults = None
        if faults is not None and hasattr(faults, "install_fault_hook"):
            faults.install_fault_hook()
        _installed = True
