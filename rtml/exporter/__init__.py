"""``python -m rtml.exporter``: Prometheus metrics of the stack's shared services, read from outside them.

Kafka through the admin API (brokers, each topic's end offsets, every consumer group's committed offsets and
lag), Redis through ``INFO``. One process, started by ``rtml up`` and scraped by the local Prometheus; it reads
the services every ``--interval`` seconds in a thread of its own, so a scrape never waits on a broker. A
service that does not answer gives ``<service>_up 0`` and no other series of it (no stale values).
"""
