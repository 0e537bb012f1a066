"""Recording management: naming, storage, transcoding, retention, access."""
