"""Timestamps in every form shippers send, read as UTC against a fixed 'now'."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from mozdef.core.timestamps import isoformat, parse_timestamp

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NETFLOW = "2015-05-04T16:36:52.336527+00:00"  # the netflow example's moment


def parsed(value: object, zone=UTC, now: datetime = NOW) -> str | None:
    moment = parse_timestamp(value, now=now, syslog_tz=zone)
    if moment is None:
        return None
    assert moment.tzinfo is UTC
    return isoformat(moment)


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        pytest.param(
            "2014-02-14T11:48:19.035762739-05:00",
            UTC,
            "2014-02-14T16:48:19.035762+00:00",
            id="iso-offset-nanoseconds-truncated",
        ),
        pytest.param(NETFLOW, NEW_YORK, NETFLOW, id="iso-utc-offset-ignores-zone"),
        pytest.param("2015-05-04T16:36:52Z", UTC, "2015-05-04T16:36:52.000000+00:00", id="z"),
        pytest.param(
            "2015-05-04T22:06:52.5+0530", UTC, "2015-05-04T16:36:52.500000+00:00", id="basic-offset"
        ),
        pytest.param("2015-05-04T16:36:52", UTC, "2015-05-04T16:36:52.000000+00:00", id="naive"),
        pytest.param(
            "2015-02-04T11:36:52", NEW_YORK, "2015-02-04T16:36:52.000000+00:00", id="naive-in-est"
        ),
        pytest.param(
            "2015-05-04T12:36:52", NEW_YORK, "2015-05-04T16:36:52.000000+00:00", id="naive-in-edt"
        ),
        pytest.param(
            "2015-05-04 16:36:52", UTC, "2015-05-04T16:36:52.000000+00:00", id="nxlog-space"
        ),
        pytest.param(
            "2015-05-04 12:36:52", NEW_YORK, "2015-05-04T16:36:52.000000+00:00", id="nxlog-zone"
        ),
        pytest.param("2015-05-04", UTC, "2015-05-04T00:00:00.000000+00:00", id="date-only"),
        pytest.param(f"  {NETFLOW}\n", UTC, NETFLOW, id="surrounding-space"),
        pytest.param(1430757412, UTC, "2015-05-04T16:36:52.000000+00:00", id="epoch-s"),
        pytest.param(1430757412.336527, UTC, NETFLOW, id="epoch-s-float"),
        pytest.param(1430757412336, UTC, "2015-05-04T16:36:52.336000+00:00", id="epoch-ms"),
        pytest.param(1430757412336.527, UTC, NETFLOW, id="epoch-ms-float"),
        pytest.param(1430757412336527, UTC, NETFLOW, id="epoch-us"),
        pytest.param(1430757412336527999, UTC, NETFLOW, id="epoch-ns-heka"),
        pytest.param("1430757412", UTC, "2015-05-04T16:36:52.000000+00:00", id="epoch-s-text"),
        pytest.param("1430757412.336527", UTC, NETFLOW, id="epoch-s-float-text"),
        pytest.param("1430757412336", UTC, "2015-05-04T16:36:52.336000+00:00", id="epoch-ms-text"),
        pytest.param("1430757412336527", UTC, NETFLOW, id="epoch-us-text"),
        pytest.param("1430757412336527000", UTC, NETFLOW, id="epoch-ns-text"),
        pytest.param("20150504", UTC, "1970-08-22T05:21:44.000000+00:00", id="digits-are-epoch"),
        pytest.param(0, UTC, "1970-01-01T00:00:00.000000+00:00", id="epoch-zero"),
        pytest.param(99_999_999_999, UTC, "5138-11-16T09:46:39.000000+00:00", id="largest-seconds"),
        pytest.param(1430757412, NEW_YORK, "2015-05-04T16:36:52.000000+00:00", id="epoch-no-zone"),
    ],
)
def test_readable_forms(value, zone, expected) -> None:
    assert parsed(value, zone) == expected


@pytest.mark.parametrize(
    ("value", "zone", "now", "expected"),
    [
        pytest.param("Mar 10 11:00:00", UTC, NOW, "2024-03-10T11:00:00.000000", id="earlier-today"),
        pytest.param(
            "Jan 15 08:00:00", UTC, NOW, "2024-01-15T08:00:00.000000", id="earlier-this-year"
        ),
        pytest.param(
            "Nov 21 22:10:05", UTC, NOW, "2023-11-21T22:10:05.000000", id="rollover-to-last-year"
        ),
        pytest.param(
            "Mar 11 11:00:00", UTC, NOW, "2024-03-11T11:00:00.000000", id="under-a-day-ahead"
        ),
        pytest.param(
            "Mar 11 13:00:00", UTC, NOW, "2023-03-11T13:00:00.000000", id="over-a-day-ahead"
        ),
        pytest.param(
            "Nov  1 02:03:04", UTC, NOW, "2023-11-01T02:03:04.000000", id="double-space-day"
        ),
        pytest.param(
            "nov 1 02:03:04", UTC, NOW, "2023-11-01T02:03:04.000000", id="any-case-one-space"
        ),
        pytest.param("Mar  9 22:10:05", NEW_YORK, NOW, "2024-03-10T03:10:05.000000", id="in-zone"),
        pytest.param(
            "Jan  1 00:30:00",
            LOS_ANGELES,
            datetime(2024, 1, 1, 2, 0, tzinfo=UTC),  # still 2023 in Los Angeles
            "2023-01-01T08:30:00.000000",
            id="year-of-the-zone-not-utc",
        ),
        pytest.param(
            "Feb 29 10:00:00",
            UTC,
            datetime(2025, 3, 1, tzinfo=UTC),
            "2024-02-29T10:00:00.000000",
            id="leap-day-from-last-year",
        ),
        pytest.param("Mar 10 11:00:00.25", UTC, NOW, "2024-03-10T11:00:00.250000", id="fraction"),
    ],
)
def test_syslog_takes_the_likeliest_year(value, zone, now, expected) -> None:
    assert parsed(value, zone, now) == expected + "+00:00"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param(True, id="boolean"),
        pytest.param([1430757412], id="array"),
        pytest.param({"seconds": 1430757412}, id="object"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("yesterday", id="word"),
        pytest.param("2014-13-01T00:00:00", id="month-13"),
        pytest.param("Foo 21 22:10:05", id="syslog-bad-month"),
        pytest.param("Nov 31 22:10:05", id="syslog-bad-day"),
        pytest.param("Nov 21 25:10:05", id="syslog-bad-hour"),
        pytest.param("Nov 21", id="syslog-no-time"),
        pytest.param("Feb 29 10:00:00", id="leap-day-in-neither-year"),
        pytest.param("1.2.3", id="two-dots"),
        pytest.param("²", id="superscript-digit"),
        pytest.param(10**30, id="beyond-year-9999"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="infinity"),
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
    ],
)
def test_unreadable_values_give_none(value) -> None:
    assert parsed(value, now=datetime(2023, 3, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(
            datetime(2014, 2, 14, 16, 48, 19, 35762, tzinfo=UTC),
            "2014-02-14T16:48:19.035762+00:00",
            id="utc",
        ),
        pytest.param(
            datetime(2014, 2, 14, 11, 48, 19, 35762, tzinfo=timezone(timedelta(hours=-5))),
            "2014-02-14T16:48:19.035762+00:00",
            id="offset-converted",
        ),
        pytest.param(
            datetime(2015, 7, 1, 12, 0, tzinfo=NEW_YORK),
            "2015-07-01T16:00:00.000000+00:00",
            id="zone-converted",
        ),
        pytest.param(
            datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
            "0999-01-02T03:04:05.000000+00:00",
            id="fixed-width",
        ),
    ],
)
def test_isoformat_is_utc_with_microseconds(moment, expected) -> None:
    assert isoformat(moment) == expected


def test_isoformat_text_sorts_like_the_moments() -> None:
    moments = [datetime(2015, 5, 4, 16, 36, 52, micro, tzinfo=UTC) for micro in (0, 5, 500_000)]
    texts = [isoformat(moment) for moment in moments]
    assert sorted(texts) == texts
    assert [datetime.fromisoformat(text) for text in texts] == moments
