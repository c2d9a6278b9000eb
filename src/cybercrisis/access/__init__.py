"""The one place that decides who sees what: principals, roles and permissions, TLP 2.0 and share lists."""
