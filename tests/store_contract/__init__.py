"""The Store contract, one file per area, each case run against both backends (SQLite and MongoDB)."""
