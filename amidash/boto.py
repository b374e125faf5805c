"""boto3 sessions that share one cache of service models.

Parsing a service's model (the EC2 one is several megabytes of JSON) is the slow part of making a
client, and a fresh boto3 session parses it again for every client it makes. The models never
change in a process, so every session made here shares one loader and parses each model once.
The product's clients come from ``inventory/services/aws.py``; the sandbox's own clients (its
estate, its outside changes, its handle for tests) come from here too.
"""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session

_loader = botocore.loaders.create_loader()


def new_session(**credentials: str) -> boto3.session.Session:
    """A boto3 session reading the standard configuration, with the shared service models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader)
    return boto3.session.Session(botocore_session=core, **credentials)
