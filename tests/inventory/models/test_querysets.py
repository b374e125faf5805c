"""What image states and the Overview's buckets mean: one rule, in the database and in memory."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import Count
from django.utils import timezone

from inventory.choices import ImageBucket
from inventory.models import AGE_BUCKETS, Account, Image, ImageQ
from tests.inventory.estates import KINDS, build_every_state_estate


@pytest.fixture
def every_state(db) -> dict[str, list[Image]]:
    return build_every_state_estate()


def _pks(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def _where(predicate) -> set[int]:
    return {image.pk for image in Image.objects.all() if predicate(image)}


def test_it_puts_every_kind_of_image_in_its_bucket(every_state) -> None:
    now = timezone.now()
    for kind, (_fields, bucket) in KINDS.items():
        pks = {image.pk for image in every_state[kind]}
        assert pks <= _pks(Image.objects.in_state(bucket, now)), kind
        assert {image.bucket for image in Image.objects.filter(pk__in=pks)} == {bucket}, kind


def test_it_counts_a_deprecated_and_disabled_image_as_disabled_only(every_state) -> None:
    both = {image.pk for image in every_state["deprecated_and_disabled"]}
    assert both <= _pks(Image.objects.in_state(ImageBucket.DISABLED))
    assert not both & _pks(Image.objects.in_state(ImageBucket.DEPRECATED))
    # Deprecated as EC2 means it (the time has passed), whatever the state.
    assert both <= _pks(Image.objects.deprecated())


def test_it_counts_a_future_deprecation_as_not_deprecated_yet(every_state) -> None:
    scheduled = {image.pk for image in every_state["deprecation_scheduled"]}
    assert not scheduled & _pks(Image.objects.deprecated())
    later = timezone.now() + datetime.timedelta(days=11)
    assert scheduled <= _pks(Image.objects.in_state(ImageBucket.DEPRECATED, later))


def test_it_puts_each_current_image_in_exactly_one_bucket(every_state) -> None:
    now = timezone.now()
    current = Image.objects.current()
    buckets = [b for b in ImageBucket if b != ImageBucket.GONE]
    counted = sum(current.in_state(bucket, now).count() for bucket in buckets)
    assert counted == current.count() == 4 * (len(KINDS) - 3)
    assert _pks(Image.objects.in_state(ImageBucket.GONE, now)) == _pks(Image.objects.gone())


def test_it_agrees_with_the_bucket_of_each_image_in_memory(every_state) -> None:
    now = timezone.now()
    in_memory = {image.pk: image.bucket for image in Image.objects.all()}
    for bucket in ImageBucket:
        expected = {pk for pk, placed in in_memory.items() if placed == bucket}
        assert _pks(Image.objects.in_state(bucket, now)) == expected


@pytest.mark.parametrize(
    ("method", "predicate"),
    [
        ("current", lambda image: not image.is_gone),
        ("gone", lambda image: image.is_gone),
        ("in_use", lambda image: image.in_use),
        ("unused", lambda image: not image.in_use),
        ("deprecated", lambda image: image.is_deprecated),
        ("disabled", lambda image: image.is_disabled),
        ("public", lambda image: image.public),
        ("shared", lambda image: image.is_shared),
        ("exposed", lambda image: image.public or image.is_shared),
        ("private", lambda image: not image.public and not image.is_shared),
    ],
)
def test_it_agrees_with_the_image_properties(every_state, method, predicate) -> None:
    selected = _pks(getattr(Image.objects, method)())
    assert selected == _where(predicate)
    assert selected and selected != _pks(Image.objects.all())  # the estate has both kinds


def test_it_places_ages_in_buckets_and_leaves_unknown_dates_out(every_state) -> None:
    now = timezone.now()
    current = Image.objects.current()
    counts = [current.aged(low, high, now).count() for _label, low, high in AGE_BUCKETS]
    unknown = current.filter(creation_date__isnull=True).count()
    assert all(counts) and unknown
    assert sum(counts) + unknown == current.count()
    for (_label, low, high), count in zip(AGE_BUCKETS, counts, strict=True):
        in_memory = [
            i for i in current if i.age_days is not None and low <= i.age_days < (high or 10**6)
        ]
        assert count == len(in_memory)


def test_it_finds_cleanup_candidates_among_current_unused_old_images(every_state) -> None:
    selected = _pks(Image.objects.cleanup_candidates(180))
    assert selected == _where(
        lambda i: not i.is_gone and not i.in_use and i.age_days is not None and i.age_days >= 180
    )
    assert selected


def test_it_counts_through_a_relation_as_on_the_images(every_state) -> None:
    accounts = Account.objects.annotate(
        current=Count("images", filter=ImageQ.through("images", ImageQ.current())),
        deprecated=Count(
            "images",
            filter=ImageQ.through("images", ImageQ.bucket(ImageBucket.DEPRECATED, timezone.now())),
        ),
    )
    for account in accounts:
        images = Image.objects.filter(account=account)
        assert account.current == images.current().count() > 0
        assert account.deprecated == images.in_state(ImageBucket.DEPRECATED).count() > 0


def test_it_refuses_an_unknown_bucket(db) -> None:
    with pytest.raises(ValueError, match="Unknown image bucket 'retired'"):
        Image.objects.in_state("retired")
