"""Automatic call distribution: agents, skills, queues and the routing policy (pure)."""
