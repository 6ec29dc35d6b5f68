"""The store back ends: SQLite (embedded) and Elasticsearch/OpenSearch clusters."""
