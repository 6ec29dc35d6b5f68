"""The `[rabbitmq]` table: the broker, MozDef's own exchange and queues, and the queues
of other systems that MozDef reads."""

from typing import Literal

from pydantic import Field

from mozdef.core.schema import Section

ExchangeType = Literal["direct", "fanout", "topic", "headers"]


class SourceSettings(Section):
    """One `[[rabbitmq.sources]]` table: a queue that other systems publish events to."""

    exchange: str = Field(
        "syslog", description="Exchange the other system publishes to (syslog-ng's default)."
    )
    exchange_type: ExchangeType = Field(
        "fanout",
        description="Its type, used when MozDef declares it: direct, fanout, topic "
        "or headers (syslog-ng's default is fanout).",
    )
    declare_exchange: bool = Field(
        True,
        description="Declare the exchange (durable) if it is missing; false when the other "
        "system declares it itself with different flags.",
    )
    queue: str = Field("mozdef.syslog", description="Durable queue MozDef binds and reads.")
    routing_key: str = Field("", description="Binding key between the exchange and the queue.")
    prefetch: int = Field(
        1000, ge=1, description="Unacknowledged messages a worker holds from this queue."
    )
    format: Literal["json", "syslog-ng"] = Field(
        "syslog-ng",
        description="json: the body is one event (MozDef's format or any JSON object) or an "
        "array of them. syslog-ng: the amqp() destination's message, whose headers are the "
        "name-value pairs (HOST, PROGRAM, MESSAGE, ...) and whose body, if any, is the "
        "message text or a JSON object that is merged over them.",
    )


class RabbitSettings(Section):
    """The `[rabbitmq]` table: queue mode (`mozdef run --role loginput|worker|alerts|bot`)."""

    url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="Broker URL, amqp:// or amqps://, whose path is the vhost (/ when empty); "
        "put credentials in $MOZDEF_RABBITMQ_URL rather than in the file.",
    )
    exchange: str = Field("mozdef.events", description="Durable direct exchange for raw events.")
    routing_key: str = Field("events", description="Routing key of raw events.")
    queue: str = Field("mozdef.events", description="Durable queue the workers consume.")
    queue_type: Literal["classic", "quorum"] = Field(
        "classic",
        description="RabbitMQ type of the queues MozDef declares: classic, or quorum "
        "(replicated across a cluster). A queue's type cannot change once it exists.",
    )
    events_per_message: int = Field(
        200,
        ge=1,
        description="The loginput packs at most this many raw events into one message.",
    )
    confirm_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds the loginput waits for the broker to confirm a batch, reconnecting "
        "and republishing as needed, before answering the client 503.",
    )
    prefetch: int = Field(
        50,
        ge=1,
        description="Unacknowledged raw-event messages a worker holds; enough to fill a "
        "batch: at least batch_size / events_per_message.",
    )
    batch_size: int = Field(
        2000, ge=1, description="A worker stores up to this many events in one commit."
    )
    batch_linger: float = Field(
        0.05,
        ge=0,
        description="Seconds a worker waits for more messages to fill a batch before storing "
        "what it has.",
    )
    dead_letter_exchange: str = Field(
        "mozdef.deadletter",
        description="Durable fanout exchange for messages that can never be processed.",
    )
    dead_letter_queue: str = Field(
        "mozdef.deadletter",
        description="Durable queue holding them, each with its reason in the "
        "`x-mozdef-reason` header.",
    )
    alerts_exchange: str = Field(
        "alerts", description="Durable topic exchange the alerts role publishes alerts to."
    )
    alerts_routing_key: str = Field("mozdef.alert", description="Routing key of alerts.")
    alerts_queue: str = Field(
        "mozdef.bots",
        description="Durable queue on the alerts exchange that `--role bot` processes share.",
    )
    realtime_routing_key: str = Field(
        "mozdef.realtime",
        description="Routing key, on the alerts exchange, of the workers' notes that a "
        "real-time rule has new matching events.",
    )
    realtime_queue: str = Field(
        "mozdef.alerts.realtime",
        description="Durable queue of those notes, which the alerts role consumes.",
    )
    reconnect_min: float = Field(
        0.5, gt=0, description="Seconds before the first reconnection attempt."
    )
    reconnect_max: float = Field(
        30.0, gt=0, description="Longest wait between reconnection attempts (the wait doubles)."
    )
    heartbeat: int = Field(
        30, ge=0, description="AMQP heartbeat in seconds, so a dead peer is noticed; 0 is off."
    )
    sources: list[SourceSettings] = Field(
        [],
        description="Queues that other systems fill, read by the workers as well: "
        "[[rabbitmq.sources]] tables with exchange, exchange_type, declare_exchange, queue, "
        "routing_key, prefetch and format.",
    )
