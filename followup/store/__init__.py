"""The store port and its SQL implementation (SQLite and PostgreSQL behind one class)."""
