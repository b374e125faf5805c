"""The image list's export: exactly the filtered rows, streamed, in CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

URL = "/images/"


def _listed(client, query: str) -> set[str]:
    body = client.get(f"{URL}?{query}&size=200").content.decode()
    return set(re.findall(r'href="/images/\d+/">(ami-[0-9a-f]+)<', body))


@pytest.mark.parametrize("query", ["", "region=eu-west-1", "in_use=no&gone=no", "q=web&sort=name"])
def test_it_exports_exactly_the_filtered_rows(viewer_client, estate, query) -> None:
    listed = _listed(viewer_client, query)
    response = viewer_client.get(f"{URL}export.json?{query}")
    assert response.status_code == 200 and response.streaming
    records = json.loads(b"".join(response.streaming_content))
    assert {record["image_id"] for record in records} == listed
    response = viewer_client.get(f"{URL}export.csv?{query}")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["image_id"] for row in rows} == listed
    assert "attachment" in response["Content-Disposition"]


def test_it_exports_the_contract_fields(viewer_client, estate) -> None:
    image = estate["images"]["web_new"]
    response = viewer_client.get(f"{URL}export.json", {"q": image.image_id})
    (record,) = json.loads(b"".join(response.streaming_content))
    for field in [
        "image_id", "name", "account_id", "region", "state", "creation_date", "age_days",
        "deprecation_time", "last_launched_time", "public", "shared_with", "in_use", "usage",
        "storage_gib", "tags", "first_seen_at", "last_seen_at", "gone_at",
    ]:  # fmt: skip
        assert field in record, field
    assert record["account_id"] == "111122223333"
    assert record["in_use"] is True
    assert {"type": "instance", "id": "i-0123456789abcdef0"} in record["usage"]
    assert record["creation_date"].endswith("Z")


def test_it_refuses_to_export_with_a_bad_filter(viewer_client, estate) -> None:
    response = viewer_client.get(f"{URL}export.csv", {"min_age": "old"})
    assert response.status_code == 400
    assert "Age from (days)" in response.content.decode()


def test_it_refuses_an_unknown_export_format(viewer_client, estate) -> None:
    response = viewer_client.get(f"{URL}export.xlsx")
    assert response.status_code == 400
    assert "csv or json" in response.content.decode()


def test_it_keeps_the_export_behind_sign_in(client, estate) -> None:
    response = client.get(f"{URL}export.csv")
    assert response.status_code == 302


def test_a_formula_looking_name_and_tag_value_export_as_text(viewer_client) -> None:
    from tests.factories import create_image

    image = create_image(name="=cmd|' /C calc'!A0", tags={"Owner": "@SUM(1+1)"})
    response = viewer_client.get(f"{URL}export.csv", {"q": image.image_id})
    (row,) = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["name"] == "'=cmd|' /C calc'!A0"
    assert json.loads(row["tags"]) == {"Owner": "@SUM(1+1)"}
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
