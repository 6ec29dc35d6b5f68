"""The HTTP ingest server (the loginput role): shippers POST events, MozDef stores them.

`mozdef.core.http.settings` is imported with the configuration, so this package itself
imports nothing: gevent loads only when a server is started.
"""
