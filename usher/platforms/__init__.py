"""Ad-platform connectors and what they share (see base.py for the contract).

`normalize_user_data` is re-exported here because every connector, the audience
builder and the collector call it; import the rest from their modules.
"""

from usher.platforms.normalize import normalize_user_data

__all__ = ["normalize_user_data"]
