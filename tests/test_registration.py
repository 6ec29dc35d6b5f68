"""Registrations: compiled once, tested cheaply against each event."""

import pytest

from mozdef.core.registration import RegistrationError, compile_registration

SSHD = {"processname": "sshd", "details": {"sourceipaddress": "10.1.1.1", "port": 22}}
AUDIT = {"processname": "audisp", "category": "execve", "details": {"auid": None}}


@pytest.mark.parametrize(
    ("spec", "event", "wanted"),
    [
        ("*", AUDIT, True),
        (False, SSHD, False),
        ({"hostname": None}, SSHD, False),  # an absent field is not null, at any depth
        ({"details.missing": None}, SSHD, False),
        ("processname", SSHD, True),
        ("hostname", SSHD, False),
        ("details.sourceipaddress", SSHD, True),
        ("details.sourceipaddress", AUDIT, False),
        ("details.auid", AUDIT, False),  # present but null counts as absent
        ("details.sourceipaddress.octet", SSHD, False),  # a path through a scalar
        ("Details.SourceIPAddress", SSHD, True),  # paths are lowercased like keys
        ({"processname": "sshd"}, SSHD, True),
        ({"processname": ["su", "sshd"]}, SSHD, True),
        ({"processname": ["su", "sshd"]}, AUDIT, False),
        ({"details.port": 22}, SSHD, True),
        ({"details.port": [23, 2222]}, SSHD, False),
        ({"details": "x"}, SSHD, False),  # an object never equals a value
        ({"details.port": 22}, {"details": "port=22"}, False),  # a path through a scalar
        ({"details.ports": 22}, {"details": {"ports": [22]}}, False),  # nor does a list
        ({"details.auid": None}, AUDIT, True),  # null can be asked for...
        ({"details.auid": None}, SSHD, False),  # ...and an absent field is not null
        ({"details.id.orig_p": 22}, {"details": {"id": {"orig_p": 22}}}, True),
        ({"details.id.orig_p": 22}, {"details": {"id": 22}}, False),
        (["hostname", {"category": "execve"}], AUDIT, True),
        (["hostname", {"category": "execve"}], SSHD, False),
    ],
)
def test_registration(spec, event, wanted) -> None:
    assert compile_registration(spec)(event) is wanted


@pytest.mark.parametrize("spec", [None, [], 42, "details..ip", [{"a": 1}, 3.5]])
def test_bad_registrations_are_refused(spec) -> None:
    with pytest.raises(RegistrationError):
        compile_registration(spec)
