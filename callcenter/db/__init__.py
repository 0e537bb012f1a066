"""Call history: SQLAlchemy models, engine, and the CDR / queue_log writers and readers."""
