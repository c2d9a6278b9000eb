"""Server-rendered pages: our own templates, CSS and JS; nothing from a CDN."""
