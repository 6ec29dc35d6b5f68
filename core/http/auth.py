"""The optional API token, in the forms shippers can send it.

`Authorization: Bearer TOKEN` for anything that sets a header (syslog-ng, nxlog,
Fluent Bit, curl); HTTP basic auth with the token as the password (any user name) for
shippers that only know a user and password (rsyslog's omelasticsearch, Logstash,
Beats); and `Authorization: ApiKey base64(ID:TOKEN)`, what Beats, Logstash and the
elasticsearch clients send when given an API key "ID:TOKEN" (any ID). The comparison
takes the same time wherever the offered token differs.
"""

import base64
import binascii
import hmac


class TokenCheck:
    def __init__(self, token: str) -> None:
        self.token = token.encode()

    def allows(self, authorization: str) -> bool:
        """Whether an Authorization header's value carries the token."""
        scheme, _, credential = authorization.strip().partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if scheme == "bearer":
            offered = credential.encode()
        elif scheme in ("basic", "apikey"):
            offered = secret_part(credential)
        else:
            return False
        return hmac.compare_digest(offered, self.token)


def secret_part(credential: str) -> bytes:
    """The part after the first ':' of base64('NAME:SECRET'); empty if it is not that."""
    try:
        decoded = base64.b64decode(credential, validate=True)
    except (binascii.Error, ValueError):
        return b""
    _, colon, secret = decoded.partition(b":")
    return secret if colon else b""
