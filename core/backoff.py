"""How long to wait before trying again: exponential backoff, shared by everything that
retries (cluster bulk requests, broker connections, a worker facing an unavailable
store) so that they all back off alike."""


def backoff_delay(failures: int, first: float, longest: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row: first, twice that, four
    times..., never more than `longest`."""
    return min(longest, first * 2 ** (failures - 1))
