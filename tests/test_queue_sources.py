"""Events that other systems put on RabbitMQ: syslog-ng's amqp() destination and
MozDef-format JSON, decoded, then consumed from configured queues into the store."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import gevent
import orjson
import pika
import pika.exceptions
import pytest
from test_queue_support import Scratch, free_port, listening, sqlite_store, wait_until

from mozdef.core.app import MozDef
from mozdef.core.config import ConfigError
from mozdef.core.ingest import Ingestor
from mozdef.core.query import Search, Term
from mozdef.core.queue.messages import Unprocessable
from mozdef.core.queue.sources import json_events, syslog_ng_events
from mozdef.core.queue.worker import Worker

pytest_plugins = ["test_queue_support"]

# What syslog-ng 3.38's amqp() destination sends with its default value-pairs (scope
# selected-macros, nv-pairs, sdata) for an RFC 3164 line received by network(): every
# pair a UTF-8 string header (SDATA pairs come from RFC 5424 input).
SYSLOG_NG_HEADERS = {
    "DATE": "Nov 21 10:15:02",
    "FACILITY": "auth",
    "HOST": "web1.example.com",
    "HOST_FROM": "web1.example.com",
    "LEGACY_MSGHDR": "sshd[4321]: ",
    "MESSAGE": "Failed password for invalid user admin from 203.0.113.9 port 41022 ssh2",
    "PID": "4321",
    "PRIORITY": "info",
    "PROGRAM": "sshd",
    "SOURCE": "s_net",
    "SOURCEIP": "192.0.2.10",
    "TAGS": ".source.s_net",
    ".SDATA.meta.sequenceId": "12",
}


def syslog_ng_properties(headers: dict, message_id: str | None = None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="text/plain", delivery_mode=2, headers=headers, message_id=message_id
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Default amqp(): empty body, everything in the headers; SDATA names nested.
        (
            b"",
            {
                "HOST": "web1.example.com",
                "MESSAGE": SYSLOG_NG_HEADERS["MESSAGE"],
                "SYSLOG_NG_SOURCE": "s_net",  # not MozDef's `source`
                "SDATA": {"meta": {"sequenceId": "12"}},
            },
        ),
        # body("$MSG") or any text template: the body is the message.
        (b"custom text from body()", {"MESSAGE": "custom text from body()"}),
        # A message that only looks like JSON stays text.
        (b"{not json", {"MESSAGE": "{not json"}),
        # body("$(format-json ...)"): merged over the headers, the body's keys winning.
        (
            b'{"host": "from-body", "app": {"user": "bob"}}',
            {"host": "from-body", "app": {"user": "bob"}, "PROGRAM": "sshd"},
        ),
    ],
)
def test_syslog_ng_messages_become_events(body: bytes, expected: dict) -> None:
    [raw] = syslog_ng_events(body, syslog_ng_properties(SYSLOG_NG_HEADERS), "rabbitmq:q")
    assert raw.source == "rabbitmq:q"
    for key, value in expected.items():
        assert raw.value[key] == value
    assert "SOURCE" not in raw.value
    if body.startswith(b'{"host"'):
        assert "HOST" not in raw.value  # the body's `host` replaced it


def test_syslog_ng_header_bytes_and_clashing_names_are_kept() -> None:
    headers = {"MESSAGE": b"caf\xc3\xa9 \xff", "a": "1", ".a.b": "2"}
    [raw] = syslog_ng_events(b"", syslog_ng_properties(headers, "m-1"), "s")
    assert raw.value == {"MESSAGE": "café \ufffd", "a": "1", ".a.b": "2"}
    assert raw.doc_id == "m-1"


def test_an_empty_syslog_ng_message_is_unprocessable() -> None:
    with pytest.raises(Unprocessable):
        syslog_ng_events(b"  ", syslog_ng_properties({}), "s")


@pytest.mark.parametrize(
    ("body", "message_id", "values", "ids"),
    [
        (b'{"summary": "one"}', "m-7", [{"summary": "one"}], ["m-7"]),
        (b'{"summary": "one"}', None, [{"summary": "one"}], [None]),
        (b'[{"a": 1}, 5]', "batch", [{"a": 1}, 5], ["batch-0", "batch-1"]),
        (b"[]", None, [], []),
    ],
)
def test_json_bodies_become_events(body, message_id, values, ids) -> None:
    events = json_events(body, pika.BasicProperties(message_id=message_id), "s")
    assert [raw.value for raw in events] == values
    assert [raw.doc_id for raw in events] == ids


def test_a_body_that_is_not_json_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="not JSON"):
        json_events(b"<xml/>", pika.BasicProperties(), "s")


def test_sources_are_configured_as_arrays_of_tables(config_file) -> None:
    config = config_file(
        "[rabbitmq]\n"
        "[[rabbitmq.sources]]\n"
        'exchange = "syslog"\n'
        'queue = "mozdef.syslog"\n'
        "[[rabbitmq.sources]]\n"
        'exchange = "apps"\n'
        'exchange_type = "topic"\n'
        'routing_key = "events.#"\n'
        'queue = "mozdef.apps"\n'
        'format = "json"\n',
        environ={"MOZDEF_RABBITMQ_URL": "amqps://mozdef:secret@mq.example.com:5671/prod"},
    )
    rabbitmq = config.settings.rabbitmq
    assert rabbitmq.url == "amqps://mozdef:secret@mq.example.com:5671/prod"
    assert [(s.exchange, s.format, s.routing_key) for s in rabbitmq.sources] == [
        ("syslog", "syslog-ng", ""),
        ("apps", "json", "events.#"),
    ]


def test_an_unknown_source_format_is_named_in_the_error(config_file) -> None:
    with pytest.raises(ConfigError, match=r"rabbitmq\.sources\.0\.format"):
        config_file('[[rabbitmq.sources]]\nformat = "gelf"\n')


def test_events_from_configured_sources_are_consumed_and_stored(
    scratch: Scratch, mozdef: MozDef, tmp_path: Path
) -> None:
    syslog = scratch.source("syslog")  # syslog-ng's defaults: fanout, no routing key
    apps = scratch.source(
        "apps", exchange_type="topic", routing_key="events.#", format="json", prefetch=10
    )
    settings = scratch.settings(sources=[syslog, apps], batch_linger=0.01)
    store = sqlite_store(tmp_path / "events.sqlite3")
    worker = Worker(Ingestor(mozdef, store), settings)
    greenlet = gevent.spawn(worker.run)
    try:
        wait_until(worker.link.ready.is_set, 10, "the worker's queues")
        scratch.publish(syslog.exchange, "", b"", syslog_ng_properties(SYSLOG_NG_HEADERS))
        mozdef_event = {
            "category": "authentication",
            "hostname": "vpn1.example.com",
            "summary": "vpn login succeeded for alice",
            "details": {"username": "alice", "sourceipaddress": "198.51.100.4"},
        }
        scratch.publish(
            apps.exchange,
            "events.vpn",
            orjson.dumps(mozdef_event),
            pika.BasicProperties(delivery_mode=2, message_id="vpn-0001"),
        )
        with pytest.raises(pika.exceptions.UnroutableError):  # a routing key not ours
            scratch.publish(apps.exchange, "metrics.cpu", b"{}", pika.BasicProperties())
        wait_until(lambda: store.search(Search(size=1)).total == 2, 20, "both events")
        gevent.sleep(0.2)
        assert store.search(Search(size=10)).total == 2
    finally:
        worker.stop()
        greenlet.join(timeout=10)

    [syslog_event] = store.search(Search(Term("hostname", "web1.example.com"))).hits
    event = syslog_event.event
    assert event["summary"].startswith("Failed password for invalid user admin")
    assert event["processname"] == "sshd"
    assert event["processid"] == "4321"
    assert event["severity"] == "INFO"
    assert event["source"] == "auth"
    assert event["details"]["syslog_ng_source"] == "s_net"
    assert event["details"]["eventsourceipaddress"] == "192.0.2.10"
    assert event["utctimestamp"].endswith("+00:00")
    [vpn] = store.search(Search(Term("details.username", "alice"))).hits
    assert vpn.doc_id == "vpn-0001"
    assert vpn.event["category"] == "authentication"
    store.close()


SYSLOG_NG_MODULE = Path("/usr/lib/syslog-ng")


@pytest.fixture(scope="session")
def syslog_ng() -> str:
    """Debian's syslog-ng with its AMQP module, installed if missing."""
    if shutil.which("syslog-ng") is None or not list(SYSLOG_NG_MODULE.glob("*/libafamqp.so")):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=environment)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "syslog-ng-core", "syslog-ng-mod-amqp"],
            check=True,
            env=environment,
        )
    return shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"


SYSLOG_NG_CONFIG = """\
@version: 3.38
options {{ time-reopen(1); }};
source s_net {{ network(ip("127.0.0.1") port({port}) transport("tcp")); }};
destination d_mozdef {{
    amqp(host("127.0.0.1") port(5672) username("guest") password("guest")
         exchange("{exchange}") persistent(yes));
}};
log {{ source(s_net); destination(d_mozdef); }};
"""


def test_a_real_syslog_ng_amqp_destination_feeds_the_worker(
    syslog_ng: str, scratch: Scratch, mozdef: MozDef, tmp_path: Path
) -> None:
    source = scratch.source("syslog-ng")
    settings = scratch.settings(sources=[source], batch_linger=0.01)
    store = sqlite_store(tmp_path / "events.sqlite3")
    worker = Worker(Ingestor(mozdef, store), settings)
    greenlet = gevent.spawn(worker.run)
    port = free_port()
    config = tmp_path / "syslog-ng.conf"
    config.write_text(SYSLOG_NG_CONFIG.format(port=port, exchange=source.exchange))
    daemon = None
    try:
        wait_until(worker.link.ready.is_set, 10, "the worker to declare the exchange")
        state = [f"--persist-file={tmp_path / 'persist'}", f"--pidfile={tmp_path / 'pid'}"]
        daemon = subprocess.Popen(
            [syslog_ng, "-F", "-f", str(config), *state, f"--control={tmp_path / 'ctl'}"],
            stdout=(tmp_path / "syslog-ng.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: listening(port), 10, "syslog-ng to listen")
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(
                b"<38>Nov 21 10:15:02 web1 sshd[4321]: Accepted publickey for bob "
                b"from 198.51.100.7 port 50022 ssh2: ED25519 SHA256:Xk3v\n"
            )
        wait_until(lambda: store.search(Search(size=1)).total == 1, 20, "the event")
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
        worker.stop()
        greenlet.join(timeout=10)
    [hit] = store.search(Search(size=1)).hits
    assert hit.event["summary"].startswith("Accepted publickey for bob from 198.51.100.7")
    assert hit.event["processname"] == "sshd"
    assert hit.event["processid"] == "4321"
    assert hit.event["source"] == "auth"
    assert hit.event["severity"] == "INFO"
    store.close()
