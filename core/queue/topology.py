"""The exchanges, queues and bindings each role declares when it connects.

Declaring is idempotent, so every role declares what it uses: a loginput that starts
before any worker still has a durable queue to publish into, and nothing is lost to an
exchange with no queue bound.
"""

from mozdef.core.queue.link import Link
from mozdef.core.queue.settings import ExchangeType, SourceSettings


def declare_events(link: Link) -> None:
    """The raw-event exchange and the queue the workers consume."""
    settings = link.settings
    declare(link, settings.exchange, "direct", settings.queue, settings.routing_key)


def declare_dead_letters(link: Link) -> None:
    """Where messages that can never be processed are kept, with their reason."""
    settings = link.settings
    declare(link, settings.dead_letter_exchange, "fanout", settings.dead_letter_queue, "")


def declare_alerts(link: Link) -> None:
    """The alerts exchange and the bots' queue on it, declared by both sides so that an
    alert raised before any bot started waits for one."""
    settings = link.settings
    declare(
        link, settings.alerts_exchange, "topic", settings.alerts_queue, settings.alerts_routing_key
    )


def declare_realtime(link: Link) -> None:
    """Where workers note real-time rules to run, for the alerts role."""
    settings = link.settings
    declare(
        link,
        settings.alerts_exchange,
        "topic",
        settings.realtime_queue,
        settings.realtime_routing_key,
    )


def declare_source(link: Link, source: SourceSettings) -> None:
    """Another system's exchange (unless it owns the declaration) and MozDef's queue on it."""
    exchange_type = source.exchange_type if source.declare_exchange else None
    declare(link, source.exchange, exchange_type, source.queue, source.routing_key)


def declare(
    link: Link, exchange: str, exchange_type: ExchangeType | None, queue: str, routing_key: str
) -> None:
    """A durable exchange (unless `exchange_type` is None: it must exist) and a durable
    queue bound to it."""
    channel = link.channel
    if exchange_type is not None:
        link.rpc(
            lambda done: channel.exchange_declare(
                exchange, exchange_type, durable=True, callback=done
            )
        )
    arguments = {"x-queue-type": "quorum"} if link.settings.queue_type == "quorum" else None
    link.rpc(
        lambda done: channel.queue_declare(queue, durable=True, arguments=arguments, callback=done)
    )
    link.rpc(lambda done: channel.queue_bind(queue, exchange, routing_key, callback=done))
