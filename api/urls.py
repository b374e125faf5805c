"""The API under /api/: version 1 resources, the schema, its docs, and the token page.

Resources authenticate by bearer token only, so they are exempt from the sign-in redirect; the
schema also takes a signed-in browser session (the docs page reads it), and the docs page and
the token page need sign-in like every page.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from api import views
from api.authentication import BearerTokenAuthentication
from api.pages import token_list, token_revoke
from api.problems import not_found

app_name = "api"


def open_to_tokens(view: Any) -> Any:
    return login_not_required(view.as_view())


v1 = [
    path("images/", open_to_tokens(views.ImageList), name="image_list"),
    path("images/<str:image_id>/", open_to_tokens(views.ImageDetail), name="image_detail"),
    path("images/<str:image_id>/status", open_to_tokens(views.ImageStatus), name="image_status"),
    path("accounts/", open_to_tokens(views.AccountList), name="account_list"),
    path("sync-runs/", open_to_tokens(views.SyncRunList), name="sync_run_list"),
    path("sync-runs/<int:pk>/", open_to_tokens(views.SyncRunDetail), name="sync_run_detail"),
    path("requests/", open_to_tokens(views.RequestList), name="request_list"),
    path("requests/<int:pk>/", open_to_tokens(views.RequestDetail), name="request_detail"),
    path("requests/<int:pk>/approve", open_to_tokens(views.RequestApprove), name="request_approve"),
    path("requests/<int:pk>/reject", open_to_tokens(views.RequestReject), name="request_reject"),
    path("audit/events/", open_to_tokens(views.AuditEventList), name="audit_events"),
    path("audit/export", open_to_tokens(views.AuditExport), name="audit_export"),
    path("policies/", open_to_tokens(views.PolicyList), name="policy_list"),
    path("policies/<int:pk>/", open_to_tokens(views.PolicyDetail), name="policy_detail"),
    path("policies/<int:pk>/plans/", open_to_tokens(views.PlanList), name="plan_list"),
    path(
        "policies/<int:pk>/plans/<int:plan_pk>/",
        open_to_tokens(views.PlanDetail),
        name="plan_detail",
    ),
]

schema_view = SpectacularAPIView.as_view(
    authentication_classes=[BearerTokenAuthentication, SessionAuthentication],
    permission_classes=[IsAuthenticated],
)

# The documentation pages are third-party bundles: their script comes from our own origin like
# every page's (Swagger's set-up script from its own URL, the "split" view), but they write inline
# styles and Redoc starts a worker from a blob. Only these two pages get that allowance.
docs_policy = csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})
# GET only: an OPTIONS request would ask DRF to render these HTML pages' metadata, which they
# have no template for.
READ_ONLY = ["get", "head"]
swagger_view = SpectacularSwaggerSplitView.as_view(
    url_name="api:schema", http_method_names=READ_ONLY
)
redoc_view = SpectacularRedocView.as_view(url_name="api:schema", http_method_names=READ_ONLY)

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", login_not_required(schema_view), name="schema"),
    path("docs/", docs_policy(swagger_view), name="docs"),
    path("redoc/", docs_policy(redoc_view), name="redoc"),
    path("tokens/", token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", token_revoke, name="token_revoke"),
    re_path(r"^.*$", login_not_required(csrf_exempt(not_found))),
]
