"""Storage: the tables, the engine and its sessions, and the SQL the service runs."""
