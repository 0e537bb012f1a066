"""Agent ordering keys: how a waiting call picks among the free agents of its queue.

Each queue keeps its free agents sorted by its own policy's key, computed when the agent becomes
free (nothing in a key changes while the agent stays free). Keys end with the agent id, so equal
agents are taken in id order: the same inputs always give the same decisions.
"""

from __future__ import annotations

from acd.model import QueueConfig, RoutingPolicy
from acd.state import AgentRecord

AgentKey = tuple[float, float, str]


def agent_key(queue: QueueConfig, agent: AgentRecord, calls_today: int, last_offered: int) -> AgentKey:
    agent_id = agent.config.agent_id
    policy = queue.policy
    if policy is RoutingPolicy.LEAST_CALLS:
        return (calls_today, agent.available_since, agent_id)
    if policy is RoutingPolicy.ROUND_ROBIN:
        # offer counter of this queue when the agent last got one of its calls (0: never)
        return (last_offered, 0.0, agent_id)
    if policy is RoutingPolicy.BEST_PROFICIENCY:
        skills = agent.config.skills
        return (-sum(skills.get(r.skill, 0) for r in queue.required), agent.available_since, agent_id)
    # LONGEST_IDLE, and LAST_AGENT when the customer's agent is not free
    return (agent.available_since, 0.0, agent_id)
