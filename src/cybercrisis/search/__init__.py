"""Search and pivot: one search over what the reader may see, and an observable's incidents (issue 19)."""
