"""The page tests' browser-like client and reader, for the services' API-versus-pages tests."""

from tests.web.conftest import Web, reader, web  # noqa: F401
