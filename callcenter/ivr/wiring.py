"""Builds the IVR of the running server from the settings (called by the composition root)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.customers.service import CustomerService
from callcenter.ivr.cli import prompt_store
from callcenter.ivr.services import CallCenterServices
from callcenter.routing.service import RoutingService
from callcenter.settings import Settings
from ivr.fastagi import FastAgiServer
from ivr.registry import FlowRegistry

log = logging.getLogger(__name__)


def build_ivr(settings: Settings, sessions: async_sessionmaker[AsyncSession], customers: CustomerService,
              routing: RoutingService | None) -> FastAgiServer | None:
    """The FastAGI server with the flows of `ivr.flows_dir`, or None when `ivr.enabled` is false."""
    ivr = settings.ivr
    if not ivr.enabled:
        return None
    registry = FlowRegistry(ivr.flows_dir, prompt_exists=prompt_store(settings).exists)
    return FastAgiServer(registry, CallCenterServices(sessions, customers, routing), host=ivr.host, port=ivr.port,
                         environment_timeout=ivr.environment_timeout, answer_timeout=ivr.answer_timeout,
                         request_timeout=ivr.request_timeout, max_sessions=ivr.max_sessions,
                         reload_interval=ivr.reload_interval)
