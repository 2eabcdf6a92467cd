"""Every test process keeps its workspaces in a temporary database, never in the repository's data folder."""
import os
import tempfile

# Before anything opens the store (the pages open it on their first run; browser tests' servers inherit this).
os.environ.setdefault("PLAYGROUND_DATA_DIR", tempfile.mkdtemp(prefix="playground-test-data-"))
os.environ.pop("PLAYGROUND_DATABASE_URL", None)
# One address (127.0.0.1) opens every browser test's workspaces: the hourly cap is tested on its own store.
os.environ.setdefault("PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR", "100000")
