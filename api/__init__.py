"""Flask side of Sanji: the JSON API (`/api/v1`), the web pages, and the CLI."""
