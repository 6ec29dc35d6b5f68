"""Elasticsearch and OpenSearch clusters."""

from pydantic import Field

from mozdef.core.schema import Section


class ClusterSettings(Section):
    """The `[store.elasticsearch]` or `[store.opensearch]` table."""

    hosts: list[str] = Field(["http://127.0.0.1:9200"], description="Cluster URLs.")
