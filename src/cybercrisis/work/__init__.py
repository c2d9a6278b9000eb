"""My work: what waits on the reader and its organisation, across domains (issue 19)."""
