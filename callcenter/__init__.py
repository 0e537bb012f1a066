"""Composition root: settings, event bus, database, HTTP API, websockets, CLI."""
