"""Event timestamps, in whatever form a shipper sends them, read as UTC.

Shippers send ISO 8601 with any offset or none, epoch numbers in four units, syslog's
yearless 'Nov 21 22:10:05' and nxlog's 'YYYY-MM-DD HH:MM:SS'. Reading them all to one
aware UTC datetime lets events from every source be compared and sorted, and
`isoformat` writes that in a single fixed-width form that also sorts correctly as text.
"""

from datetime import UTC, date, datetime, time, timedelta, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_DAY = timedelta(days=1)
# What `isoformat` writes; formatting the fields directly is faster than datetime's own.
ISO_UTC = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"
MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_timestamp(value: object, *, now: datetime, syslog_tz: tzinfo) -> datetime | None:
    """-> aware datetime in UTC, or None if unparseable.

    Strings of digits (with at most one '.') and JSON numbers are epoch times; other
    strings are ISO 8601 (fractions finer than microseconds are truncated) or syslog's
    'Mon DD HH:MM:SS'. Times with no offset are in `syslog_tz`. A syslog stamp takes the
    current year in `syslog_tz`, or the one before if that puts it over a day after `now`.
    """
    kind = type(value)
    if kind is int or kind is float:
        return from_epoch(value)
    if kind is not str:
        return None
    text = value.strip()
    if text.isdecimal():  # before ISO 8601, which would read '20150504' as a date
        return from_epoch(int(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        if text.replace(".", "", 1).isdecimal():  # such as '1430757412.336527'
            return from_epoch(float(text))
        return from_syslog(text, now, syslog_tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=syslog_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # within hours of year 1 or 9999
        return None


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC, always with microseconds: '2014-02-14T16:48:19.035762+00:00'.

    A naive `moment` is taken to be UTC already. The fixed width makes these strings
    sort chronologically.
    """
    if moment.tzinfo is not UTC:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return ISO_UTC % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def from_epoch(number: int | float) -> datetime | None:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, told by magnitude:
    1e11 seconds is the year 5138, so anything larger must be a finer unit."""
    size = abs(number)
    if size < 1e11:
        microseconds = number * 1_000_000
    elif size < 1e14:
        microseconds = number * 1_000
    elif size < 1e17:
        microseconds = number
    else:
        microseconds = number // 1_000
    try:
        return EPOCH + timedelta(microseconds=microseconds)
    except (OverflowError, ValueError):  # beyond the year 9999, or NaN
        return None


def from_syslog(text: str, now: datetime, zone: tzinfo) -> datetime | None:
    """'Nov 21 22:10:05' or 'Nov  1 02:03:04' (RFC 3164), which has no year."""
    parts = text.split()
    if len(parts) != 3 or not parts[1].isdecimal():
        return None
    month = MONTHS.get(parts[0].lower())
    if month is None:
        return None
    try:
        time_of_day = time.fromisoformat(parts[2])
    except ValueError:
        return None
    day = int(parts[1])
    year = now.astimezone(zone).year
    for candidate in (year, year - 1):  # 29 February may exist only in the year before
        try:
            moment = datetime.combine(date(candidate, month, day), time_of_day, tzinfo=zone)
        except ValueError:
            continue
        if moment - now <= ONE_DAY:
            return moment.astimezone(UTC)
    return None
