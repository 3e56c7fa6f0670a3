"""The replication daemon: many policies in one process, a control API, metrics, systemd."""
