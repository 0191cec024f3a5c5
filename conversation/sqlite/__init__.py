"""The embedded SQLite backend: one module per store area over one connection."""

from conversation.sqlite.store import SQLiteStore as SQLiteStore
