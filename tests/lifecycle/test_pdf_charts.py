"""The report's charts are vector drawings in the PDF: searchable text, no raster image."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.core.management import call_command
from fpdf import FPDF

from lifecycle.pdf_charts import draw_chart, nice_scale, number
from lifecycle.services.report_charts import LINES, STACKED, Chart
from tests.lifecycle.report_history import write_history

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdfimages")),
    reason="needs pdftotext and pdfimages (poppler-utils)",
)


def _text(pdf, *pages: str) -> str:
    return subprocess.run(
        ["pdftotext", *pages, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@needs_poppler
@pytest.mark.django_db
def test_the_second_page_draws_the_four_charts_as_vectors(tmp_path):
    write_history()
    pdf = tmp_path / "report.pdf"
    call_command("audit_report", "--from", "2025-03-03", "--to", "2025-03-23",
                 "--output", str(pdf))  # fmt: skip

    summary = _text(pdf, "-f", "1", "-l", "1")  # the estate chart's last point, as figures
    assert "Images in scope at 2025-03-24 00:00" in summary
    assert "Unused at 2025-03-24 00:00" in summary and "5 (83.3 %)" in summary
    charts = _text(pdf, "-f", "2", "-l", "2")
    assert charts.lstrip().startswith("Charts")
    for title in (
        "Actions executed per week, by type",
        "Changes made outside amidash, per account",
        "Estate size and unused images, end of each week",
        "Request to approval, per week (hours)",
    ):
        assert title in charts
    for axis_label in ("2025-03-03", "2025-03-17", "111111111111", "222222222222"):
        assert axis_label in charts  # x labels
    for legend in ("deregister", "state_changed to disabled", "unused", "95th percentile"):
        assert legend in charts
    assert "83.3 % unused" in charts
    assert _text(pdf, "-f", "3", "-l", "3").lstrip().startswith("Exceptions")

    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(images) == 2, images  # the header lines only: no embedded raster image


@needs_poppler
@pytest.mark.django_db
def test_a_period_without_events_says_so_on_each_chart(tmp_path):
    pdf = tmp_path / "report.pdf"
    call_command("audit_report", "--from", "2025-01-06", "--to", "2025-01-12",
                 "--output", str(pdf))  # fmt: skip
    assert _text(pdf, "-f", "2", "-l", "2").count("Nothing in the period.") >= 3


@pytest.mark.parametrize(
    ("largest", "whole", "scale"),
    [
        (0, True, (1.0, 1.0)),
        (3, True, (3.0, 1.0)),
        (7, True, (8.0, 2.0)),
        (130, True, (150.0, 50.0)),
        (0.6, False, (0.6, 0.2)),
        (24, False, (30.0, 10.0)),
    ],
)
def test_the_y_axis_ends_on_a_round_step(largest, whole, scale):
    top, step = nice_scale(largest, whole=whole)
    assert (round(top, 6), round(step, 6)) == scale


def test_numbers_are_written_without_needless_decimals():
    assert [number(v) for v in (3, 3.0, 1234, 0.5, 12.75, 2.333)] == [
        "3",
        "3",
        "1,234",
        "0.5",
        "12.75",
        "2.33",
    ]


@pytest.mark.parametrize("kind", [STACKED, LINES])
def test_a_chart_leaves_the_document_as_it_found_it(kind):
    """The tables drawn after the charts must not inherit a bar's fill or a line's width."""
    pdf = FPDF(orientation="landscape")
    pdf.add_page()
    pdf.set_font("Helvetica", size=8)
    before = (pdf.fill_color, pdf.draw_color, pdf.text_color, pdf.line_width, pdf.font_size_pt)
    chart = Chart("c", "A chart", kind, ["a", "b"], {"one": [1, 2], "two": [3, None]})
    draw_chart(pdf, chart, 10, 10, 120, 80)
    assert (pdf.fill_color, pdf.draw_color, pdf.text_color, pdf.line_width,
            pdf.font_size_pt) == before  # fmt: skip
