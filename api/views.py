"""The API's operations. Each one parses input, calls the same service, filter, queryset and
permission check as its page, and answers JSON; the rules themselves live where the pages find
them (docs/architecture.md). Writes made with a token are recorded as ``token.used``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from amidash.pagination import COUNT_BOUND, Position, keyset_rows
from amidash.twofactor import needs_reauthentication
from api import serializers as s
from api.models import TokenScope
from api.openapi import form_parameters
from api.pagination import PageForm, checked, link, page_of, page_response
from api.problems import BadInput
from api.services import record_token_use
from inventory.choices import ImageBucket
from inventory.exports import export_queryset, image_record
from inventory.filtersets import DEFAULT_SORT, SORTABLE, filter_images, parse_image_query
from inventory.forms import ImageFilterForm, SyncNowForm
from inventory.lineage import ancestor_chain
from inventory.models import Account, AccountRegion, Image, ImageFindings, ImageQ, SyncRun
from inventory.services.sync import SyncScopeError, start_sync
from inventory.views.sync import SYNC_PERMISSION
from lifecycle.choices import RequestStatus
from lifecycle.exceptions import RequestError
from lifecycle.exports import FORMATS, start_export, stream_export
from lifecycle.filtersets import AuditFilterForm
from lifecycle.forms import RequestFilterForm
from lifecycle.models import AuditEvent, AuditSource, LifecycleRequest
from lifecycle.services import requests as request_services
from lifecycle.services.audit import Target, image_history
from lifecycle.views.audit import SEQUENCE
from policies.choices import PlanDecision
from policies.models import Policy, PolicyPlan
from policies.services import policies as policy_services
from policies.services.plans import plan_entries

PAGE_PARAMETERS = form_parameters(PageForm())
HISTORY_SIZE = 50


def _require(request: Request, permission: str, what: str) -> None:
    """The user's roles must grant ``permission`` (the same permission the page checks)."""
    if not request.user.has_perm(permission):
        raise exceptions.PermissionDenied(f"{what} needs a role that grants it.")


def _require_policy_view(request: Request) -> None:
    """The policies' own reading rule (``policies.services.policies.may_view``)."""
    try:
        policy_services.require_view(request.user)
    except PermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


def _parsed(serializer_class: type, request: Request) -> dict[str, Any]:
    """The body, parsed by its serializer; BadInput names the fields that are not valid."""
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        raise BadInput(serializer.errors)
    return dict(serializer.validated_data)


def _denied(error: PermissionDenied) -> exceptions.PermissionDenied:
    return exceptions.PermissionDenied(str(error) or "Not allowed.")


# --- images -------------------------------------------------------------------------------------

IMAGE_PARAMETERS = [
    *form_parameters(ImageFilterForm()),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        enum=[f"{sign}{key}" for key in SORTABLE for sign in ("", "-")],
        description=f"A column, '-' first for descending; default {DEFAULT_SORT}.",
    ),
    *PAGE_PARAMETERS,
]


def _images_queryset(user: Any) -> Any:
    """The images ``user`` may see, with what an image record needs: the account, the Region's
    last listing and the usage in the accounts they may see."""
    return export_queryset(Image.objects.visible_to(user), user)


def _image(image_id: str, user: Any) -> Image:
    """The image with this AMI id; its current row when the id was ever seen twice. An image
    outside the accounts ``user`` may see is not found, like a missing one."""
    image = (
        _images_queryset(user)
        .filter(image_id=image_id)
        .order_by(F("gone_at").asc(nulls_first=True), "-last_seen_at")
        .first()
    )
    if image is None:
        raise exceptions.NotFound(f"No image {image_id[:40]} in the inventory.")
    return image


class ImageList(APIView):
    """Images with the image list's filters, sorts and page sizes."""

    @extend_schema(
        operation_id="images_list",
        parameters=IMAGE_PARAMETERS,
        responses=s.paged(s.ImageSerializer),
    )
    def get(self, request: Request) -> Response:
        query = parse_image_query(request.query_params, request.user)
        errors = {name: list(messages) for name, messages in query.form.errors.items()}
        sort = request.query_params.get("sort", DEFAULT_SORT)
        if sort.lstrip("-") not in SORTABLE:
            errors["sort"] = [f"Cannot sort by {sort[:40]!r}."]
        if errors:
            raise BadInput(errors)
        images = filter_images(_images_queryset(request.user), query.filters)
        page = page_of(request, images, query.sort_key, descending=query.descending)
        return page_response(request, page, [image_record(image) for image in page.rows])


class ImageDetail(APIView):
    @extend_schema(operation_id="images_detail", responses=s.ImageDetailSerializer)
    def get(self, request: Request, image_id: str) -> Response:
        image = _image(image_id, request.user)
        history = image_history(image)[:HISTORY_SIZE]
        return Response(
            {
                **image_record(image),
                "usages": [_usage(usage) for usage in image.usages.all()],
                "consumers": s.ConsumerSerializer(image.consumers.all(), many=True).data,
                "consumers_reported_at": image.consumers_reported_at,
                "launch_permissions": {
                    "public": image.public,
                    "shared_with": list(image.shared_with),
                    "checked_at": image.launch_permissions_checked_at,
                },
                "snapshots": list(image.block_devices),
                "ancestors": [
                    {"image_id": image_id, "region": region}
                    for image_id, region in ancestor_chain(image)
                ],
                "findings": _findings(image),
                "history": s.AuditEventSerializer(history, many=True).data,
            }
        )


def _findings(image: Any) -> dict[str, Any]:
    """The image's Inspector findings; counts are null where they are unknown."""
    found = ImageFindings.objects.filter(image=image).first()
    if found is None:
        return {"status": "not_read", "reason": "not read yet", "counts": None, "checked_at": None}
    return {
        "status": found.status,
        "reason": found.reason,
        "counts": found.counts if found.is_scanned else None,
        "checked_at": found.checked_at,
    }


def _usage(usage: Any) -> dict[str, Any]:
    return {
        "type": usage.usage_type,
        "id": usage.resource_id,
        "name": usage.resource_name,
        "account_id": usage.account.account_id,
        "region": usage.region,
        "detail": usage.detail,
        "observed_at": usage.observed_at,
    }


class ImageStatus(APIView):
    """A deploy gate in one call: may this image be launched, and what is pending on it."""

    @extend_schema(operation_id="images_status", responses=s.ImageStatusSerializer)
    def get(self, request: Request, image_id: str) -> Response:
        image = _image(image_id, request.user)
        bucket = image.bucket
        pending = LifecycleRequest.objects.filter(
            status=RequestStatus.PENDING, items__image=image
        ).order_by("pk")
        reasons = [] if bucket == ImageBucket.AVAILABLE else [f"The image is {bucket.label}."]
        return Response(
            s.ImageStatusSerializer(
                {
                    "image_id": image.image_id,
                    "account_id": image.account.account_id,
                    "region": image.region,
                    "state": image.state,
                    "bucket": bucket.value,
                    "deprecated": image.is_deprecated,
                    "deprecation_time": image.deprecation_time,
                    "disabled": image.is_disabled,
                    "gone": image.is_gone,
                    "in_use": image.in_use,
                    "usage_count": image.usage_count,
                    "allowed": not reasons,
                    "reasons": reasons,
                    "pending_requests": list(pending.distinct()),
                }
            ).data
        )


# --- accounts and syncs -------------------------------------------------------------------------


class AccountList(APIView):
    @extend_schema(
        operation_id="accounts_list",
        parameters=PAGE_PARAMETERS,
        responses=s.paged(s.AccountSerializer),
    )
    def get(self, request: Request) -> Response:
        accounts = Account.objects.visible_to(request.user).annotate(
            image_count=Count("images", filter=ImageQ.through("images", ImageQ.current()))
        )
        page = page_of(request, accounts)
        regions: dict[int, list[AccountRegion]] = {}
        for region in AccountRegion.objects.filter(account__in=page.rows).order_by("region"):
            regions.setdefault(region.account_id, []).append(region)
        rows = [{**_account(a), "regions": regions.get(a.pk, [])} for a in page.rows]
        return page_response(request, page, s.AccountSerializer(rows, many=True).data)


def _account(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "name": account.name,
        "enabled": account.enabled,
        "image_count": account.image_count,
    }


class SyncRunList(APIView):
    @extend_schema(
        operation_id="sync_runs_list",
        parameters=PAGE_PARAMETERS,
        responses=s.paged(s.SyncRunSerializer),
    )
    def get(self, request: Request) -> Response:
        page = page_of(request, SyncRun.objects.all())
        return page_response(request, page, s.SyncRunSerializer(page.rows, many=True).data)

    @extend_schema(
        operation_id="sync_runs_start",
        request=s.SyncStartSerializer,
        responses={202: s.SyncRunSerializer},
        parameters=[],
    )
    def post(self, request: Request) -> Response:
        """Start a sync, as "Sync now" does (the user needs the right to sync)."""
        _require(request, SYNC_PERMISSION, "Starting a sync")
        data = checked(SyncNowForm(_parsed(s.SyncStartSerializer, request)))
        try:
            run = start_sync(
                request.user,
                account_ids=[data["account"]] if data["account"] else None,
                regions=[data["region"]] if data["region"] else None,
                source="web",
            )
        except SyncScopeError as error:
            raise BadInput(str(error)) from None
        record_token_use(request.auth, "sync.start", run, correlation_id=f"sync:{run.pk}")
        return Response(s.SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunDetail(APIView):
    @extend_schema(operation_id="sync_runs_detail", responses=s.SyncRunDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(SyncRun, pk=pk)
        run.results_list = (
            run.results.visible_to(request.user)
            .select_related("account")
            .order_by("account__account_id", "region")
        )
        data = s.SyncRunSerializer(run).data
        data["results"] = s.SyncResultSerializer(run.results_list, many=True).data
        return Response(data)


# --- lifecycle requests -------------------------------------------------------------------------


def _request_error(error: RequestError, fields: set[str]) -> exceptions.APIException:
    """A refused request or decision: 400 naming the field it is about, else 409 (the request
    is not in a state that takes it: decided, expired, changed since it was reviewed)."""
    if error.field:
        name = error.field if error.field in fields else f"parameters.{error.field}"
        return BadInput(str(error), name)
    return Conflict(str(error))


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is not in a state that takes this."


REQUEST_PARAMETERS = [*form_parameters(RequestFilterForm()), *PAGE_PARAMETERS]


class RequestList(APIView):
    @extend_schema(
        operation_id="requests_list",
        parameters=REQUEST_PARAMETERS,
        responses=s.paged(s.RequestSerializer),
    )
    def get(self, request: Request) -> Response:
        request_services.require_view(request.user)
        form = RequestFilterForm(request.query_params)
        filtered = request_services.filtered_requests(request.user, checked(form))
        page = page_of(request, filtered.select_related("requester"))
        return page_response(request, page, s.RequestSerializer(page.rows, many=True).data)

    @extend_schema(
        operation_id="requests_create",
        request=s.RequestCreateSerializer,
        responses={201: s.RequestDetailSerializer},
    )
    def post(self, request: Request) -> Response:
        """Make a request with the page's preview checks (blast radius, in-use override)."""
        data = _parsed(s.RequestCreateSerializer, request)
        pks, provenance = _selection(data, request.user)
        draft = request_services.RequestDraft(
            action=data["action"],
            image_pks=pks,
            reason=data["reason"],
            parameters=data["parameters"],
            ticket=data["ticket"],
            override_in_use=data["override_in_use"],
            override_reason=data["override_reason"],
            provenance=provenance,
        )
        try:
            created = request_services.create_request(request.user, draft, AuditSource.API)
        except PermissionDenied as error:
            raise _denied(error) from None
        except RequestError as error:
            raise _request_error(error, set(s.RequestCreateSerializer().fields)) from None
        record_token_use(
            request.auth, "request.create", created, correlation_id=f"request:{created.pk}"
        )
        return Response(_request_detail(created.pk, request.user), status=status.HTTP_201_CREATED)


def _selection(data: dict[str, Any], user: Any) -> tuple[list[int], dict[str, Any]]:
    """Image primary keys of the AMI ids named (their current rows), or of a filter's images,
    among the images ``user`` may see."""
    if "filter" in data:
        try:
            return request_services.images_from_filter(data["filter"], user)
        except RequestError as error:
            raise BadInput(str(error), "filter") from None
    wanted = set(data["images"])
    rows = (
        Image.objects.visible_to(user)
        .filter(image_id__in=wanted)
        .order_by(F("gone_at").desc(nulls_last=True))
    )
    by_id = dict(rows.values_list("image_id", "pk"))
    missing = sorted(wanted - by_id.keys())
    if missing or not wanted:
        raise BadInput(
            f"Not in the inventory: {', '.join(missing[:20]) or 'none named'}.", "images"
        )
    return sorted(by_id.values()), {}


def _request_detail(pk: int, user: Any) -> dict[str, Any]:
    """One request ``user`` may see (404 otherwise), as the API shows it."""
    lifecycle_request = get_object_or_404(
        request_services.visible_requests(user)
        .select_related("requester")
        .prefetch_related("items", "decisions__approver"),
        pk=pk,
    )
    return s.RequestDetailSerializer(lifecycle_request).data


class RequestDetail(APIView):
    @extend_schema(operation_id="requests_detail", responses=s.RequestDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        request_services.require_view(request.user)
        return Response(_request_detail(pk, request.user))


class RequestDecision(APIView):
    """Approve or reject with the fingerprint reviewed; the request service refuses the
    requester (invariant 2), repeats and changed requests (invariant 3)."""

    write_scope = TokenScope.APPROVE
    decide = staticmethod(request_services.approve_request)
    operation = "request.approve"

    def post(self, request: Request, pk: int) -> Response:
        if needs_reauthentication(request):  # only ever a session; a token is its own proof
            raise exceptions.PermissionDenied("Sign in again before approving or rejecting.")
        data = _parsed(s.DecisionInputSerializer, request)
        get_object_or_404(LifecycleRequest, pk=pk)
        try:
            self.decide(request.user, pk, data["fingerprint"], data["comment"], AuditSource.API)
        except PermissionDenied as error:
            raise _denied(error) from None
        except RequestError as error:
            raise _request_error(error, {"fingerprint", "comment"}) from None
        record_token_use(request.auth, self.operation, Target("request", str(pk)), f"request:{pk}")
        return Response(_request_detail(pk, request.user))


class RequestApprove(RequestDecision):
    @extend_schema(
        operation_id="requests_approve",
        request=s.DecisionInputSerializer,
        responses=s.RequestDetailSerializer,
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class RequestReject(RequestDecision):
    decide = staticmethod(request_services.reject_request)
    operation = "request.reject"

    @extend_schema(
        operation_id="requests_reject",
        request=s.DecisionInputSerializer,
        responses=s.RequestDetailSerializer,
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


# --- audit log ----------------------------------------------------------------------------------


class AuditPageForm(PageForm):
    """``after``: the last sequence a poller has read (events after it come in order)."""

    after = forms.IntegerField(required=False, min_value=0, max_value=2**62)


AUDIT_PARAMETERS = [
    *form_parameters(AuditFilterForm()),
    *[p for p in form_parameters(AuditPageForm()) if p.name != "cursor"],
]


class AuditEventList(APIView):
    """Events in sequence order after ``after``: a SIEM polls with its last sequence."""

    @extend_schema(
        operation_id="audit_events_list",
        parameters=AUDIT_PARAMETERS,
        responses=s.AuditPageSerializer,
    )
    def get(self, request: Request) -> Response:
        _require(request, "lifecycle.view_auditevent", "Reading the audit log")
        events = _audit_filtered(request.query_params)
        page_data = checked(AuditPageForm(request.query_params))
        after = page_data["after"] or 0
        size = page_data["size"] or 50
        page = keyset_rows(
            events, SEQUENCE, descending=False, size=size, position=Position("a", after, after)
        )
        total = events.order_by()[: COUNT_BOUND + 1].count()
        last = page.rows[-1].sequence if page.rows else after
        return Response(
            {
                "count": min(total, COUNT_BOUND),
                "count_is_bound": total > COUNT_BOUND,
                "last_sequence": last,
                "next": link(request, after=last) if page.next_cursor else None,
                "results": s.AuditEventSerializer(page.rows, many=True).data,
            }
        )


def _audit_filtered(params: Any) -> Any:
    form = AuditFilterForm(params)
    checked(form)
    return form.filter(AuditEvent.objects.all())


class AuditExport(APIView):
    """The page's export: every matching event, then the signed manifest; recorded as
    ``export.created``."""

    write_scope = TokenScope.READ

    @extend_schema(
        operation_id="audit_export",
        request=s.AuditExportSerializer,
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        },
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        _require(request, "lifecycle.export_auditevent", "Exporting the audit log")
        data = _parsed(s.AuditExportSerializer, request)
        fmt = data.pop("format")
        form = AuditFilterForm({k: v for k, v in data.items() if v not in ("", None)})
        checked(form)
        plan = start_export(
            actor=request.user,
            source=AuditSource.API,
            fmt=fmt,
            filters=form.applied(),
            queryset=form.filter(AuditEvent.objects.all()),
        )
        target = Target("audit_log", plan.export_id, label=f"{fmt} export")
        record_token_use(request.auth, "audit.export", target, plan.event.correlation_id)
        response = StreamingHttpResponse(stream_export(plan), content_type=FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
        response["X-Audit-Export-Event"] = str(plan.event.sequence)
        return response


# --- policies -----------------------------------------------------------------------------------


class PolicyList(APIView):
    @extend_schema(
        operation_id="policies_list",
        parameters=PAGE_PARAMETERS,
        responses=s.paged(s.PolicySerializer),
    )
    def get(self, request: Request) -> Response:
        _require_policy_view(request)
        page = page_of(request, Policy.objects.all())
        return page_response(request, page, s.PolicySerializer(page.rows, many=True).data)


class PolicyDetail(APIView):
    @extend_schema(operation_id="policies_detail", responses=s.PolicySerializer)
    def get(self, request: Request, pk: int) -> Response:
        _require_policy_view(request)
        return Response(s.PolicySerializer(get_object_or_404(Policy, pk=pk)).data)


class PlanList(APIView):
    @extend_schema(
        operation_id="plans_list", parameters=PAGE_PARAMETERS, responses=s.paged(s.PlanSerializer)
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_policy_view(request)
        policy = get_object_or_404(Policy, pk=pk)
        page = page_of(request, PolicyPlan.objects.filter(policy=policy))
        return page_response(request, page, s.PlanSerializer(page.rows, many=True).data)


class PlanEntryForm(PageForm):
    """The plan page's filters of its rows."""

    decision = forms.ChoiceField(required=False, choices=[("", "Any"), *PlanDecision.choices])
    family = forms.CharField(required=False, max_length=255)
    q = forms.CharField(required=False, max_length=100)


class PlanDetail(APIView):
    @extend_schema(
        operation_id="plans_detail",
        parameters=form_parameters(PlanEntryForm()),
        responses=s.paged(s.PlanEntrySerializer),
    )
    def get(self, request: Request, pk: int, plan_pk: int) -> Response:
        """The plan's rows (image, decision, reasons), filtered as on the plan page."""
        _require_policy_view(request)
        plan = get_object_or_404(PolicyPlan, pk=plan_pk, policy=pk)
        checked(PlanEntryForm(request.query_params))
        entries, _chosen = plan_entries(plan, request.query_params)
        page = page_of(request, entries)
        return page_response(request, page, s.PlanEntrySerializer(page.rows, many=True).data)
