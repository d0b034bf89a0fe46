"""Infrastructure: database and schema helpers, settings, clock, logs, the event log, backups, exports."""
