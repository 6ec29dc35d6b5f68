"""MozDef's benchmarks, run by `make bench`. They print figures; they assert nothing."""
