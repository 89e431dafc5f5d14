"""``manage.py morning_pack``: the pack in a terminal."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from briefing import services
from briefing.models import MorningPack

from .conftest import PACK_DATE


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("morning_pack", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_every_section_generating_the_pack_when_missing(desk):
    out, err = run("--date", "2024-04-10")
    assert err == "generated the morning pack of 2024-04-10\n"
    pack = MorningPack.objects.get(portfolio=desk, date=PACK_DATE)
    lines = out.splitlines()
    assert lines[0] == "MORNING PACK  MACRO1 — " + desk.name
    assert lines[1] == "for 2024-04-10, as of the close of 2024-04-09 (USD)"
    for title in (
        "HEADER",
        "MARKET MOVES",
        "RISK",
        "PENDING PROPOSALS (1)",
        "ALERTS",
    ):
        assert title in lines
    assert any(line.startswith("POSITIONS: TOP 3 BY |EXPOSURE| OF 3") for line in lines)
    assert any(line.startswith("ATTRIBUTION MTD BY STRATEGY") for line in lines)
    # Numbers formatted for reading: the NAV with separators and 2 decimals
    nav = Decimal(pack.content["header"]["nav"])
    assert nav != nav.quantize(Decimal("0.01"))  # the stored NAV has more than 2 decimals
    assert f"NAV {nav:,.2f}\n" in out
    assert "gross_leverage" in out and "BREACH" in out
    assert "Add to the trend into the data" in out


def test_a_stored_pack_is_printed_as_stored_unless_regenerated(desk):
    services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    first = MorningPack.objects.get().generated_at
    out, err = run("--date", "2024-04-10")
    assert err == "" and "MORNING PACK" in out
    assert MorningPack.objects.get().generated_at == first
    _, err = run("--date", "2024-04-10", "--regenerate")
    assert err == "generated the morning pack of 2024-04-10\n"
    assert MorningPack.objects.get().generated_at > first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "2024-04-13"), "date: 2024-04-13 is not a business day"),
        (("--date", "2024-03-25"), "date: MACRO1 has no marked close before 2024-03-25"),
        (("--date", "2024-04-10", "--portfolio", "NOPE"), "portfolio: unknown portfolio"),
    ],
)
def test_bad_input_is_a_command_error_naming_the_field(desk, args, message):
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert str(exc.value).startswith(message)
    assert not MorningPack.objects.exists()


def test_a_malformed_date_is_refused_by_the_parser(desk):
    with pytest.raises(CommandError, match="is not a date"):
        run("--date", "10/04/2024")
