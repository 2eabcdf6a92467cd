"""What every page shares: the session's data, its workspace kept in the database, pushes, the sidebar, helpers."""
