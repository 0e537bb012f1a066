"""IVR flow engine: YAML flow model, runner and FastAGI adapter."""
