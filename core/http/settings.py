"""The `[server]` table: where the HTTP ingest server listens and the limits it keeps."""

from pydantic import Field, model_validator

from mozdef.core.schema import Section

MIB = 1024 * 1024


class ServerSettings(Section):
    """The `[server]` table: the HTTP ingest server (the loginput role)."""

    bind: str = Field(
        "127.0.0.1",
        description="Address to listen on; 0.0.0.0 (or ::) to accept events from other "
        "machines, with a token and TLS configured.",
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    token: str = Field(
        "",
        description="API token every request must carry (except GET /status), as "
        "'Authorization: Bearer TOKEN', as the password of HTTP basic auth, or as the key "
        "of 'Authorization: ApiKey base64(ID:TOKEN)'. Empty: no authentication. Prefer "
        "$MOZDEF_SERVER_TOKEN to writing it here.",
    )
    tls_certificate: str = Field(
        "", description="PEM certificate chain; with tls_key, the server speaks HTTPS only."
    )
    tls_key: str = Field("", description="PEM private key of tls_certificate.")
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port, to use more than one core; each "
        "runs its own pipeline and store connection (SQLite commits take turns). Plugins "
        "that keep state (duplicate suppression) keep it per process.",
    )
    max_body_bytes: int = Field(
        32 * MIB,
        ge=1024,
        description="Largest request body, counted both as sent and after gzip/deflate "
        "decompression; larger ones are answered 413.",
    )
    max_inflight_bytes: int = Field(
        256 * MIB,
        ge=1024,
        description="Request bodies held in memory at once, across all requests; a request "
        "that would go over is answered 429 with Retry-After.",
    )
    max_inflight_requests: int = Field(
        256,
        ge=1,
        description="Requests carrying events handled at once; more are answered 429 "
        "with Retry-After.",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Open client connections; past this, new ones wait in the listen "
        "backlog until one closes.",
    )
    timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a connection may stay silent, while idle between requests or "
        "in the middle of one, before it is closed.",
    )
    body_timeout: float = Field(
        120.0, gt=0, description="Seconds within which a request's whole body must arrive."
    )
    retry_after: int = Field(
        5, ge=1, description="Seconds clients are told to wait (Retry-After) on 429 and 503."
    )
    shutdown_grace: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM or SIGINT, seconds requests under way get to finish after "
        "the listener closes.",
    )

    @model_validator(mode="after")
    def consistent(self) -> "ServerSettings":
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError("tls_certificate and tls_key must be set together")
        if self.max_body_bytes > self.max_inflight_bytes:
            raise ValueError(
                "max_body_bytes is over max_inflight_bytes: such a body could never be taken"
            )
        return self
