"""The image list's filters, sorting and columns, shared by the page and its exports."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from amidash.fields import ChoiceField, ListField, NumberChoiceField, TextField, form_problems
from amidash.pagination import SortKey
from inventory.choices import ImageBucket, ImageState, OptInStatus
from inventory.forms import PAGE_SIZES, ImageFilterForm
from inventory.models import Account, AccountRegion, Image, ImageQ

DEFAULT_PAGE_SIZE = 50
DEFAULT_SORT = "-created"


@dataclass(frozen=True)
class Column:
    """A column of the image table: its heading, the sort key it uses (if sortable)."""

    key: str
    heading: str
    sort: SortKey | None = None
    default: bool = True
    numeric: bool = False


COLUMNS: list[Column] = [
    Column("image_id", "Image", SortKey("image_id")),
    Column("name", "Name", SortKey("name")),
    Column("account", "Account", SortKey("account_id", kind="int")),
    Column("region", "Region", SortKey("region")),
    Column("state", "State", SortKey("state")),
    Column("created", "Created", SortKey("creation_date", nullable=True, kind="datetime")),
    Column("age", "Age (days)", None, numeric=True),
    Column(
        "last_launched",
        "Last launched",
        SortKey("last_launched_time", nullable=True, kind="datetime"),
    ),
    Column(
        "deprecation",
        "Deprecation",
        SortKey("deprecation_time", nullable=True, kind="datetime"),
        default=False,
    ),
    Column("usage", "Used by", SortKey("usage_count", kind="int"), numeric=True),
    Column("exposure", "Exposure", SortKey("public", kind="bool")),
    Column("storage", "Storage GiB", SortKey("storage_gib", kind="int"), numeric=True),
    Column("family", "Family", SortKey("family"), default=False),
    Column("architecture", "Arch", SortKey("architecture"), default=False),
    Column("platform", "Platform", SortKey("platform"), default=False),
    Column("protection", "Dereg. protection", None, default=False),
    Column(
        "last_seen",
        "Last seen",
        SortKey("last_seen_at", kind="datetime"),
        default=False,
    ),
]
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
SORTABLE = {column.key: column.sort for column in COLUMNS if column.sort}
MAX_CURSOR_LENGTH = 2048  # a page link: a sort value (an image name at most) and an id, encoded


class ImageListForm(forms.Form):
    """How the image list shows the filtered rows: sort, columns, page size, page link."""

    sort = ChoiceField(
        label="Sort",
        required=False,
        choices=[(key, key) for name in SORTABLE for key in (name, f"-{name}")],
        error_messages={"invalid_choice": "cannot sort by that; sorted by newest first instead."},
    )
    col = ListField(
        ChoiceField(
            choices=[(column.key, column.heading) for column in COLUMNS],
            error_messages={"invalid_choice": "unknown column ignored."},
        ),
        label="Columns",
        required=False,
        max_items=len(COLUMNS),
    )
    size = NumberChoiceField(PAGE_SIZES, label="Page size", required=False)
    cursor = TextField(label="Page link", required=False, max_length=MAX_CURSOR_LENGTH)


@dataclass
class ImageQuery:
    """A parsed image list query string: filters, sort, columns, page size, cursor, notices."""

    form: ImageFilterForm
    filters: dict[str, Any]
    sort: str
    columns: list[Column]
    page_size: int
    cursor: str | None
    notices: list[str]

    @property
    def sort_key(self) -> SortKey:
        return SORTABLE[self.sort.lstrip("-")]

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def is_valid(self) -> bool:
        return not self.notices


def account_choices(user: Any) -> list[tuple[str, str]]:
    """The accounts ``user`` may see: a filter naming another one is refused like an unknown one."""
    accounts = Account.objects.visible_to(user).only("account_id", "name")
    return [(a.account_id, str(a)) for a in accounts]


def region_choices(user: Any) -> list[str]:
    """The Regions the inventory knows (opted in) in the accounts ``user`` may see."""
    return list(
        AccountRegion.objects.visible_to(user)
        .exclude(opt_in_status=OptInStatus.NOT_OPTED_IN)
        .order_by("region")
        .values_list("region", flat=True)
        .distinct()
    )


def parse_image_query(params: QueryDict, user: Any) -> ImageQuery:
    """Read the query string as ``user`` (whose accounts the account and Region filters offer);
    anything invalid is dropped and named in ``notices``."""
    form = ImageFilterForm(params, accounts=account_choices(user), regions=region_choices(user))
    form.is_valid()
    shown = ImageListForm(params)
    shown.is_valid()
    chosen = shown.cleaned_data
    return ImageQuery(
        form=form,
        filters=form.active_filters(),
        sort=chosen.get("sort") or DEFAULT_SORT,
        columns=[COLUMNS_BY_KEY[key] for key in chosen.get("col") or []]
        or [column for column in COLUMNS if column.default],
        page_size=chosen.get("size") or DEFAULT_PAGE_SIZE,
        cursor=chosen.get("cursor") or None,
        notices=form.problems() + form_problems(shown),
    )


def _state_filter(value: str, now: datetime.datetime) -> Q:
    """The images whose state badge reads ``value``: an Overview bucket (available,
    deprecated, disabled), or an EC2 state among the images of the "other" bucket.
    "deregistered" also lists the gone images, which EC2 reports so."""
    if value in ImageBucket.values:
        return ImageQ.bucket(value, now)
    condition = ImageQ.bucket(ImageBucket.OTHER, now) & Q(state=value)
    if value == ImageState.DEREGISTERED:
        condition |= ImageQ.gone()
    return condition


#: The image list filters that list exactly the images of an Overview bucket ("other" has none).
BUCKET_FILTERS: dict[str, dict[str, str]] = {
    ImageBucket.AVAILABLE: {"state": ImageBucket.AVAILABLE.value},
    ImageBucket.DEPRECATED: {"state": ImageBucket.DEPRECATED.value},
    ImageBucket.DISABLED: {"state": ImageBucket.DISABLED.value},
    ImageBucket.GONE: {"gone": "yes"},
}

EXPOSURE_FILTERS: dict[str, Callable[[], Q]] = {
    "public": ImageQ.public,
    "shared": ImageQ.shared,
    "exposed": ImageQ.exposed,
    "private": ImageQ.private,
}


FINDINGS_FILTERS: dict[str, Callable[[], Q]] = {
    "critical": ImageQ.critical_findings,
    "not_scanned": ImageQ.not_scanned,
}


def filter_images(queryset: QuerySet[Image], filters: dict[str, Any]) -> QuerySet[Image]:
    """Apply valid filters (ImageFilterForm.active_filters) to an Image queryset."""
    return queryset.filter(image_conditions(filters, timezone.now()))


def image_conditions(filters: dict[str, Any], now: datetime.datetime) -> Q:
    """The valid filters (ImageFilterForm.active_filters) as one condition on images at ``now``."""
    conditions = Q()
    if text := filters.get("q"):
        if text.lower().startswith("ami-"):
            conditions &= Q(image_id__istartswith=text)
        else:
            conditions &= Q(name__icontains=text) | Q(image_id=text)
    if account := filters.get("account"):
        conditions &= Q(account__account_id=account)
    if region := filters.get("region"):
        conditions &= Q(region=region)
    if state := filters.get("state"):
        conditions &= _state_filter(state, now)
    if deprecated := filters.get("deprecated"):
        past = ImageQ.deprecated(now)
        conditions &= past if deprecated == "yes" else ~past
    if in_use := filters.get("in_use"):
        conditions &= ImageQ.in_use() if in_use == "yes" else ImageQ.unused()
    if gone := filters.get("gone"):
        conditions &= ImageQ.gone() if gone == "yes" else ImageQ.current()
    if exposure := filters.get("exposure"):
        conditions &= EXPOSURE_FILTERS[exposure]()
    if findings := filters.get("findings"):
        conditions &= FINDINGS_FILTERS[findings]()
    low, high = filters.get("min_age"), filters.get("max_age")
    # "Age to 89 days" includes day 89: younger than 90 days.
    conditions &= ImageQ.aged(now, low, None if high is None else high + 1)
    if before := filters.get("launched_before"):
        start = datetime.datetime.combine(before, datetime.time.min, tzinfo=datetime.UTC)
        conditions &= Q(last_launched_time__lt=start) | Q(last_launched_time__isnull=True)
    if key := filters.get("tag_key"):
        if value := filters.get("tag_value"):
            conditions &= Q(tags__contains={key: value})
        else:
            conditions &= Q(tags__has_key=key)
    if family := filters.get("family"):
        conditions &= Q(family=family)
    return conditions


def image_list_queryset(user: Any) -> QuerySet[Image]:
    """The rows the table shows ``user`` (the images of their accounts): one join for the
    account, no per-row queries."""
    return (
        Image.objects.visible_to(user)
        .select_related("account")
        .defer("description", "image_location", "fingerprint", "block_devices")
    )


# --- Cells --------------------------------------------------------------------------------------
# The table is rendered cell by cell in Python: a template include per cell would cost more than
# every query of the page together (about 550 includes for 50 rows).


def _date(value: datetime.datetime | None, missing: str = "—") -> str:
    return value.strftime("%Y-%m-%d") if value else missing


#: The badge tone of each Overview bucket; the Overview's state chart uses the same ones.
BUCKET_TONES: dict[str, str] = {
    ImageBucket.AVAILABLE: "ok",
    ImageBucket.DEPRECATED: "warn",
    ImageBucket.DISABLED: "bad",
    ImageBucket.OTHER: "info",
    ImageBucket.GONE: "neutral",
}


def state_badge(image: Image) -> SafeString:
    """The image's Overview bucket (``Image.bucket``) as a badge; an image of the "other"
    bucket shows its EC2 state. A disabled image past its deprecation time reads disabled."""
    bucket = image.bucket
    label = image.state if bucket == ImageBucket.OTHER else bucket.value
    return format_html(
        '<span class="badge {}"{}>{}</span>', BUCKET_TONES[bucket], _state_title(image), label
    )


def _state_title(image: Image) -> SafeString | str:
    if image.gone_at:
        return format_html(' title="Not listed since {} UTC"', _minute(image.gone_at))
    if image.is_deprecated:
        also = "Also deprecated" if image.is_disabled else "Deprecated"
        return format_html(' title="{} since {} UTC"', also, _minute(image.deprecation_time))
    return ""


def _minute(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def exposure_badge(image: Image) -> SafeString:
    if image.public:
        return format_html(
            '<span class="badge bad" title="{}">public</span>', "Anyone can launch it"
        )
    if image.shared_with:
        return format_html(
            '<span class="badge warn" title="Shared with {}">shared ({})</span>',
            ", ".join(image.shared_with),
            len(image.shared_with),
        )
    return format_html('<span class="badge neutral">{}</span>', "private")


def _usage_cell(image: Image) -> SafeString:
    if image.in_use:
        # Other accounts' resources count too (their usage report): in use, never "0 in use".
        users = image.usage_count + image.external_usage_count
        return format_html('<span class="badge info">{} in use</span>', users)
    return format_html('<span class="badge neutral">{}</span>', "unused")


def _image_link(image: Image) -> SafeString:
    url = reverse("inventory:image_detail", args=[image.pk])
    return format_html('<a class="mono" href="{}">{}</a>', url, image.image_id)


CELLS: dict[str, Callable[[Image], tuple[str, Any]]] = {
    "image_id": lambda i: ("", _image_link(i)),
    "name": lambda i: ("name", i.name or "—"),
    "account": lambda i: ("mono", i.account.account_id),
    "region": lambda i: ("", i.region),
    "state": lambda i: ("", state_badge(i)),
    "created": lambda i: ("", _date(i.creation_date)),
    "age": lambda i: ("num", "—" if i.age_days is None else i.age_days),
    "last_launched": lambda i: ("", _date(i.last_launched_time, "never")),
    "deprecation": lambda i: ("", _date(i.deprecation_time)),
    "usage": lambda i: ("num", _usage_cell(i)),
    "exposure": lambda i: ("", exposure_badge(i)),
    "storage": lambda i: ("num", i.storage_gib),
    "family": lambda i: ("", i.family or "—"),
    "architecture": lambda i: ("", i.architecture or "—"),
    "platform": lambda i: ("", i.platform or "—"),
    "protection": lambda i: ("", "protected" if i.is_protected else "—"),
    "last_seen": lambda i: ("", _minute(i.last_seen_at)),
}


def render_row(image: Image, columns: list[Column]) -> SafeString:
    """The <td> cells of one image for the chosen columns (values escaped by format_html)."""
    cells = []
    for column in columns:
        css, value = CELLS[column.key](image)
        title = image.name if column.key == "name" else ""
        cells.append(
            format_html(
                "<td{}{}>{}</td>",
                format_html(' class="{}"', css) if css else "",
                format_html(' title="{}"', title) if title else "",
                value,
            )
        )
    return mark_safe("".join(cells))  # each cell is built by format_html above


def matching_image_pks(query_string: str, limit: int, user: Any) -> tuple[list[int], int]:
    """The images of ``user``'s accounts an image-list query string matches: up to ``limit``
    primary keys (oldest first) and how many match in all. ValueError names filters that are not
    valid."""
    query = parse_image_query(QueryDict(query_string), user)
    if query.form.errors:
        raise ValueError("; ".join(query.form.problems()))
    images = filter_images(Image.objects.visible_to(user), query.filters)
    pks = list(images.order_by("pk").values_list("pk", flat=True)[: limit + 1])
    total = len(pks) if len(pks) <= limit else images.count()
    return pks[:limit], total
