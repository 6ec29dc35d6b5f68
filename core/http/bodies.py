"""Reading a request body into memory within limits: its size as sent and after
decompression (a few kilobytes of gzip can inflate to gigabytes), the in-flight byte
budget, and time (a client that stops sending mid-body must not hold a connection).

Content types: shippers label JSON inconsistently (nxlog sends text/plain, curl -d sends
application/x-www-form-urlencoded, the Elasticsearch clients send
application/vnd.elasticsearch+json), so every JSON, NDJSON and plain-text type is taken
and the body is judged by parsing it; a type that cannot hold events (XML, HTML,
multipart forms, octet streams, images...) is refused with 415.
"""

import zlib

import gevent

from mozdef.core.http.admission import Ticket
from mozdef.core.http.responses import HttpError

READ_SIZE = 64 * 1024
BODY_READ = "mozdef.body_read"  # set in the WSGI environ once the body is read to its end
ACCEPTED_TYPES = frozenset(
    (
        "",  # none given
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "text/plain",
        "application/x-www-form-urlencoded",
    )
)
ACCEPTED_SUFFIXES = ("+json", "+x-ndjson", "+ndjson")  # application/vnd.elasticsearch+json


def media_type(environ: dict) -> str:
    """The request's media type, lowercased, without parameters; 415 if it is not one
    that events can come in."""
    value = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if value in ACCEPTED_TYPES or value.endswith(ACCEPTED_SUFFIXES):
        return value
    raise HttpError(
        415,
        "unsupported_media_type",
        f"Content-Type {value!r} cannot carry events; send application/json, "
        "application/x-ndjson or text/plain",
    )


def body_unread(environ: dict) -> bool:
    """Whether the request has a body that was not read to its end: then the connection
    cannot carry another request after the answer."""
    if environ.get(BODY_READ):
        return False
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
    return chunked or int(environ.get("CONTENT_LENGTH") or 0) > 0


class BodyReader:
    """Reads one request's body."""

    def __init__(self, environ: dict, max_bytes: int, timeout: float, ticket: Ticket) -> None:
        self.environ = environ
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.ticket = ticket

    def read(self) -> bytes:
        """The decompressed body; raises `HttpError` 408, 413, 415, 429 or 400."""
        declared = self.declared_length()
        if declared is not None and declared > self.max_bytes:
            raise too_large(f"the body is {declared} bytes", self.max_bytes)
        encoding = self.environ.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
        inflater = Inflater(encoding, self.max_bytes)
        if declared is not None and inflater.identity:
            self.ticket.hold_up_to(declared)  # refuse before reading, if it cannot fit
        try:
            with gevent.Timeout(self.timeout, TimeoutError):
                body = self.collect(inflater)
        except TimeoutError:
            raise HttpError(
                408, "request_timeout", "the body did not arrive in time; connection closed"
            ) from None
        except OSError as exc:  # a broken chunked encoding, a reset connection
            raise HttpError(400, "unreadable_body", f"the body could not be read: {exc}") from None
        self.environ[BODY_READ] = True
        return body

    def declared_length(self) -> int | None:
        if self.environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            return None
        return int(self.environ.get("CONTENT_LENGTH") or 0)

    def collect(self, inflater: "Inflater") -> bytes:
        stream = self.environ["wsgi.input"]
        parts = []
        sent = size = 0
        while chunk := stream.read(READ_SIZE):
            sent += len(chunk)
            if sent > self.max_bytes:
                raise too_large(f"the body is over {self.max_bytes} bytes", self.max_bytes)
            piece = inflater.feed(chunk)
            size += len(piece)
            self.ticket.hold_up_to(size)
            parts.append(piece)
        inflater.check_finished()
        return b"".join(parts)


class Inflater:
    """Undoes a Content-Encoding (gzip or deflate) a chunk at a time, never producing
    more than `limit` bytes in all."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.produced = 0
        self.identity = encoding in ("", "identity")
        if encoding in ("gzip", "x-gzip"):
            self.wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self.wbits = 0  # zlib-wrapped as HTTP says, or raw: told by the first bytes
        elif not self.identity:
            raise HttpError(
                415,
                "unsupported_content_encoding",
                f"Content-Encoding {encoding!r} is not supported; use gzip or deflate",
            )
        self.decompressor = None  # the one for the current gzip member; None before any

    def feed(self, data: bytes) -> bytes:
        if self.identity:
            return data
        pieces = []
        try:
            while data:
                if self.decompressor is None:
                    self.decompressor = zlib.decompressobj(self.wbits or deflate_wbits(data))
                pieces.append(self.bounded(self.decompressor, data))
                # A gzip stream may hold several members one after the other.
                data = self.decompressor.unused_data if self.decompressor.eof else b""
                if data:
                    self.decompressor = None
        except zlib.error as exc:
            raise HttpError(
                400, "bad_content_encoding", f"the body is not valid {self.encoding}: {exc}"
            ) from None
        return b"".join(pieces)

    def bounded(self, decompressor, data: bytes) -> bytes:
        """Decompress `data`, giving up as soon as the output passes the limit."""
        pieces = []
        while data:
            piece = decompressor.decompress(data, self.limit - self.produced + 1)
            self.produced += len(piece)
            if self.produced > self.limit:
                raise too_large(f"the body decompresses to over {self.limit} bytes", self.limit)
            pieces.append(piece)
            data = decompressor.unconsumed_tail
        return b"".join(pieces)

    def check_finished(self) -> None:
        """Raise a 400 `HttpError` if the compressed stream stopped before its end."""
        if not self.identity and (self.decompressor is None or not self.decompressor.eof):
            raise HttpError(
                400, "bad_content_encoding", f"the {self.encoding} body is truncated or empty"
            )


def deflate_wbits(data: bytes) -> int:
    """zlib-wrapped deflate starts with a two-byte header whose value is a multiple of 31;
    some clients send raw deflate instead."""
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


def too_large(what: str, limit: int) -> HttpError:
    return HttpError(
        413, "payload_too_large", f"{what}, over the limit of {limit} (max_body_bytes)"
    )
