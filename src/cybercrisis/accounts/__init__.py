"""Users, roles, password login, web sessions with CSRF, API tokens, login throttling."""
