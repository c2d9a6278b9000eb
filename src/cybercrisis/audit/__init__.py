"""The append-only, hash-chained audit log and the object timelines read from it."""
