"""The kernel's notices that a network interface entered or left promiscuous mode: a
sniffer (tcpdump, a compromised host's capture tool) puts the interface there.

Reads the classic `device eth0 entered promiscuous mode`, the `eth0: entered
promiscuous mode` of Linux 6.x (which may be preceded by driver and bus names), either
after a `[ 1234.567890]` uptime stamp, and the audit subsystem's ANOM_PROMISCUOUS
record (`audit: type=1700 ... dev=eth0 prom=256 old_prom=0 ...`). Any other line
passes unchanged.
"""

import re

from mozdef.core.parsing import (
    LineParser,
    Parsed,
    ProgramParserSettings,
    processnames_field,
)

TAG = "promiscuous"
IFF_PROMISC = 0x100  # the interface flag the audit record's prom= carries


class KernelPromiscSettings(ProgramParserSettings):
    """The `[plugins.kernel_promisc]` table."""

    processnames: list[str] = processnames_field("kernel")


NOTICE = re.compile(
    r"(?:^|\s)(?:device (?P<device>\S+)|(?P<netdev>[^\s:]+):) "
    r"(?P<state>entered|left) promiscuous mode$"
)
AUDIT_RECORD = re.compile(
    r"audit: type=1700 audit\([\d.:]+\): dev=(?P<device>\S+) prom=(?P<prom>\d+)(?:\s|$)"
)


def promiscuous(device: str, on: bool) -> Parsed:
    return Parsed("promiscuous", {"device": device, "promiscuous": "on" if on else "off"})


def parse(line: str) -> Parsed | None:
    if line.endswith("promiscuous mode"):
        match = NOTICE.search(line)
        if match is None:
            return None
        return promiscuous(match["device"] or match["netdev"], match["state"] == "entered")
    if "type=1700 " in line:
        match = AUDIT_RECORD.search(line)
        if match is None:
            return None
        return promiscuous(match["device"], bool(int(match["prom"]) & IFF_PROMISC))
    return None


plugin = LineParser(KernelPromiscSettings, parse, TAG)
