"""MozDef's own alert-enrichment plugins (the `mozdef_enrich_alert` hook)."""
