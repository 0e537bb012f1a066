"""Every table of the server in one metadata: call history and the feature packages' tables.

Alembic (`callcenter/migrations/env.py`) and the no-drift test compare the migrations with this.
"""

from __future__ import annotations

import callcenter.auth.models
import callcenter.customers.models
import callcenter.ivr.models
import callcenter.routing.models
from callcenter.db.models import Base

metadata = Base.metadata
# imported for their tables
FEATURE_MODELS = (callcenter.auth.models, callcenter.customers.models, callcenter.routing.models,
                  callcenter.ivr.models)
