"""Sign-in use cases: users, sessions, the rate limit and the audit trail.

The clock is injected (`clock() -> aware datetime`), so that expiry and the rate limit are tested by
stepping time. Password hashing (argon2id, deliberately slow) runs in a worker thread: a burst of
sign-ins at the start of a shift must not stall the call events.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.auth.errors import (
    BadUser,
    LastAdmin,
    NotSignedIn,
    RateLimited,
    SignInFailed,
    UnknownUser,
    UserExists,
    WrongPassword,
)
from callcenter.auth.models import ENDPOINT_MAX, LOGIN_MAX, NAME_MAX, SessionRow, SignInRow, UserRow
from callcenter.auth.ratelimit import LoginRateLimiter
from callcenter.settings import AuthSettings

Clock = Callable[[], datetime]

LOGIN_PATTERN = re.compile(rf"[a-z0-9][a-z0-9._@-]{{0,{LOGIN_MAX - 1}}}")
ENDPOINT_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{ENDPOINT_MAX - 1}}}")
PASSWORD_MAX = 1024
CLIENT_TEXT_MAX = 512  # user agent and address as stored: a client chooses them, we bound them
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
_IN_CHUNK = 500  # ids per IN (...): SQLite bounds the parameters of one statement


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    display_name: str
    role: Role
    endpoint: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user behind a request, and which session it came with."""

    user: User
    session_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # goes into the cookie; never stored
    signed_in: SignedIn


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    at: datetime
    login: str
    user_id: int | None
    success: bool
    reason: str
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class UserChanges:
    """Fields to change; None leaves a field as it is (`clear_endpoint` removes the endpoint)."""

    display_name: str | None = None
    role: Role | None = None
    endpoint: str | None = None
    clear_endpoint: bool = False
    disabled: bool | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(id=row.id, login=row.login, display_name=row.display_name, role=Role(row.role),
                endpoint=row.endpoint, disabled=row.disabled, created_at=row.created_at, updated_at=row.updated_at)


def _bounded(text: str | None) -> str | None:
    return None if text is None else text[:CLIENT_TEXT_MAX]


class AuthService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: AuthSettings, *,
                 clock: Clock = utc_now, hasher: PasswordHasher | None = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self.clock = clock
        self._hasher = hasher or PasswordHasher()  # argon2id with the library's (RFC 9106) parameters
        self._dummy_hash: str | None = None
        self.limiter = LoginRateLimiter(per_login=settings.login_failures_per_name,
                                        per_ip=settings.login_failures_per_ip,
                                        window=settings.login_window_seconds)
        self._idle = timedelta(seconds=settings.session_idle_seconds)
        self._lifetime = timedelta(seconds=settings.session_max_seconds)
        self._touch_every = min(TOUCH_EVERY, self._idle / 10)

    # -- passwords ------------------------------------------------------------------------------

    def check_password_rules(self, password: str) -> None:
        if len(password) < self.settings.password_min_length:
            raise BadUser(f"the password must have at least {self.settings.password_min_length} characters")
        if len(password) > PASSWORD_MAX:
            raise BadUser(f"the password must have at most {PASSWORD_MAX} characters")

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False
        return await asyncio.to_thread(verify)

    async def _verify_nobody(self, password: str) -> None:
        """Spend the time a real check takes, so that response times do not tell which names exist."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_hex(16))
        await self._verify(self._dummy_hash, password)

    # -- sign-in and sessions -------------------------------------------------------------------

    async def login(self, login: str, password: str, *, ip: str | None, user_agent: str | None) -> NewSession:
        """Sign in; raises `RateLimited` or `SignInFailed`. Every attempt is audited."""
        name = login.strip().lower()[:LOGIN_MAX]
        now = self.clock()
        wait = self.limiter.retry_after(name, ip, now.timestamp())
        if wait > 0:
            await self._audit(name, None, "rate_limited", ip, user_agent, now)
            raise RateLimited(wait)
        async with self._sessions() as session:
            row = await session.scalar(select(UserRow).where(UserRow.login == name))
        if row is None:
            await self._verify_nobody(password)
            reason = "unknown_user"
        elif not await self._verify(row.password_hash, password):
            reason = "bad_password"
        elif row.disabled:
            reason = "disabled"
        else:
            reason = "ok"
        if reason != "ok" or row is None:
            self.limiter.failed(name, ip, now.timestamp())
            await self._audit(name, None if row is None else row.id, reason, ip, user_agent, now)
            raise SignInFailed()
        self.limiter.succeeded(name)
        new_hash = await self._hash(password) if self._hasher.check_needs_rehash(row.password_hash) else None
        token = secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            if new_hash is not None:  # the hashing parameters were raised since this password was set
                await session.execute(update(UserRow).where(UserRow.id == row.id).values(password_hash=new_hash))
            stored = SessionRow(user_id=row.id, token_hash=token_hash(token), created_at=now,
                                expires_at=now + self._lifetime, last_seen_at=now, revoked_at=None,
                                user_agent=_bounded(user_agent), ip=_bounded(ip))
            session.add(stored)
            session.add(self._attempt(name, row.id, "ok", ip, user_agent, now))
            await session.flush()
            return NewSession(token, SignedIn(_user(row), stored.id, stored.expires_at))

    def _attempt(self, login: str, user_id: int | None, reason: str, ip: str | None, user_agent: str | None,
                 now: datetime) -> SignInRow:
        return SignInRow(at=now, login=login, user_id=user_id, success=reason == "ok", reason=reason,
                         ip=_bounded(ip), user_agent=_bounded(user_agent))

    async def _audit(self, login: str, user_id: int | None, reason: str, ip: str | None,
                     user_agent: str | None, now: datetime) -> None:
        async with self._sessions.begin() as session:
            session.add(self._attempt(login, user_id, reason, ip, user_agent, now))

    async def authenticate(self, token: str | None) -> SignedIn:
        """The signed-in user of a session token; raises `NotSignedIn` saying why not."""
        if not token:
            raise NotSignedIn("sign in first")
        now = self.clock()
        async with self._sessions() as session:
            found = (await session.execute(
                select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
                .where(SessionRow.token_hash == token_hash(token))
            )).one_or_none()
            if found is None:
                raise NotSignedIn("unknown session: sign in again")
            stored, user = found
            refused = self._refused(stored, user, now)
            if refused is not None:
                raise NotSignedIn(refused)
            if now - stored.last_seen_at >= self._touch_every:
                await session.execute(update(SessionRow).where(SessionRow.id == stored.id).values(last_seen_at=now))
                await session.commit()
            return SignedIn(_user(user), stored.id, stored.expires_at)

    async def check_sessions(self, session_ids: Collection[int]) -> dict[int, SignedIn | str]:
        """`authenticate` for many sessions at once (the open websockets), by session id: each one's
        signed-in user, or why it is no longer valid. Sessions in use are touched as by `authenticate`.
        A few queries whatever the number of sessions."""
        now = self.clock()
        verdicts: dict[int, SignedIn | str] = {}
        ids = sorted(set(session_ids))
        async with self._sessions() as session:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                due = []
                for stored, user in (await session.execute(
                        select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
                        .where(SessionRow.id.in_(chunk)))).all():
                    refused = self._refused(stored, user, now)
                    verdicts[stored.id] = refused or SignedIn(_user(user), stored.id, stored.expires_at)
                    if refused is None and now - stored.last_seen_at >= self._touch_every:
                        due.append(stored.id)
                if due:
                    await session.execute(update(SessionRow).where(SessionRow.id.in_(due)).values(last_seen_at=now))
            await session.commit()
        for session_id in ids:
            verdicts.setdefault(session_id, "unknown session: sign in again")
        return verdicts

    def _refused(self, stored: SessionRow, user: UserRow, now: datetime) -> str | None:
        """Why this session no longer signs its user in, or None."""
        if stored.revoked_at is not None:
            return "signed out: sign in again"
        if now >= stored.expires_at:
            return "session expired: sign in again"
        if now >= stored.last_seen_at + self._idle:
            return "session expired after inactivity: sign in again"
        if user.disabled:
            return "user disabled"
        return None

    async def logout(self, session_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(SessionRow).where(SessionRow.id == session_id,
                                                           SessionRow.revoked_at.is_(None))
                                  .values(revoked_at=self.clock()))

    async def logout_all(self, user_id: int, *, keep: int | None = None) -> int:
        """End every session of the user (but `keep`); returns how many were still open."""
        async with self._sessions.begin() as session:
            return await self._revoke_all(session, user_id, keep=keep)

    async def _revoke_all(self, session: AsyncSession, user_id: int, *, keep: int | None = None) -> int:
        statement = update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        if keep is not None:
            statement = statement.where(SessionRow.id != keep)
        result = await session.execute(statement.values(revoked_at=self.clock()))
        return int(getattr(result, "rowcount", 0))

    async def sign_ins(self, limit: int = 100) -> list[SignInAttempt]:
        """The latest sign-in attempts, newest first."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(SignInRow).order_by(SignInRow.at.desc(), SignInRow.id.desc())
                                          .limit(limit))).all()
        return [SignInAttempt(r.at, r.login, r.user_id, r.success, r.reason, r.ip, r.user_agent) for r in rows]

    # -- users ----------------------------------------------------------------------------------

    async def create_user(self, login: str, display_name: str, role: Role, password: str, *,
                          endpoint: str | None = None) -> User:
        login = login.strip().lower()
        _check_login(login)
        display_name = _check_display_name(display_name)
        _check_endpoint(role, endpoint)
        self.check_password_rules(password)
        password_hash = await self._hash(password)
        now = self.clock()
        row = UserRow(login=login, display_name=display_name, role=role.value, endpoint=endpoint,
                      password_hash=password_hash, disabled=False, created_at=now, updated_at=now)
        async with self._sessions() as session:
            async with session.begin():
                await self._check_unique(session, login=login, endpoint=endpoint)
                session.add(row)
                try:
                    await session.flush()
                except IntegrityError:  # a concurrent create of the same name or endpoint won
                    raise UserExists(f"user {login!r} or endpoint {endpoint!r} already exists") from None
            return _user(row)

    async def _check_unique(self, session: AsyncSession, *, login: str | None = None, endpoint: str | None = None,
                            other_than: int | None = None) -> None:
        if login is not None and await session.scalar(select(UserRow.id).where(UserRow.login == login)):
            raise UserExists(f"a user with login name {login!r} exists")
        if endpoint is not None:
            owner = await session.scalar(select(UserRow.login).where(UserRow.endpoint == endpoint,
                                                                      UserRow.id != (other_than or 0)))
            if owner is not None:
                raise UserExists(f"endpoint {endpoint!r} belongs to user {owner!r}")

    async def users(self) -> list[User]:
        async with self._sessions() as session:
            return [_user(r) for r in (await session.scalars(select(UserRow).order_by(UserRow.login))).all()]

    async def user(self, user_id: int) -> User:
        async with self._sessions() as session:
            row = await session.get(UserRow, user_id)
        if row is None:
            raise UnknownUser(user_id)
        return _user(row)

    async def update_user(self, user_id: int, changes: UserChanges) -> User:
        """Change a user; disabling one ends their sessions. The last enabled admin stays one."""
        async with self._sessions() as session:
            async with session.begin():
                row = await session.get(UserRow, user_id, with_for_update=True)
                if row is None:
                    raise UnknownUser(user_id)
                role = changes.role or Role(row.role)
                endpoint = None if changes.clear_endpoint else (changes.endpoint or row.endpoint)
                _check_endpoint(role, endpoint)
                if endpoint != row.endpoint:
                    await self._check_unique(session, endpoint=endpoint, other_than=row.id)
                disabled = row.disabled if changes.disabled is None else changes.disabled
                if row.role == Role.ADMIN and not row.disabled and (role != Role.ADMIN or disabled):
                    await self._check_other_admin(session, row.id)
                if changes.display_name is not None:
                    row.display_name = _check_display_name(changes.display_name)
                row.role, row.endpoint, row.disabled = role.value, endpoint, disabled
                row.updated_at = self.clock()
                if disabled:
                    await self._revoke_all(session, row.id)
            return _user(row)

    async def _check_other_admin(self, session: AsyncSession, user_id: int) -> None:
        others = await session.scalar(select(func.count()).select_from(UserRow).where(
            UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False), UserRow.id != user_id))
        if not others:
            raise LastAdmin()

    async def change_password(self, signed_in: SignedIn, old: str, new: str) -> None:
        """A user's own change: needs the current password; the user's other sessions end."""
        async with self._sessions() as session:
            row = await session.get(UserRow, signed_in.user.id)
        if row is None:
            raise UnknownUser(signed_in.user.id)
        if not await self._verify(row.password_hash, old):
            raise WrongPassword()
        await self._set_password(row.id, new, keep=signed_in.session_id)

    async def reset_password(self, user_id: int, new: str) -> None:
        """An admin's reset: every session of that user ends."""
        await self.user(user_id)
        await self._set_password(user_id, new, keep=None)

    async def _set_password(self, user_id: int, password: str, *, keep: int | None) -> None:
        self.check_password_rules(password)
        password_hash = await self._hash(password)
        async with self._sessions.begin() as session:
            await session.execute(update(UserRow).where(UserRow.id == user_id)
                                  .values(password_hash=password_hash, updated_at=self.clock()))
            await self._revoke_all(session, user_id, keep=keep)


def _check_login(login: str) -> None:
    if not LOGIN_PATTERN.fullmatch(login):
        raise BadUser(f"login name {login[:LOGIN_MAX + 8]!r} is not 1 to {LOGIN_MAX} of a-z 0-9 . _ @ - "
                      "(starting with a letter or digit)")


def _check_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise BadUser(f"the display name must have 1 to {NAME_MAX} characters")
    return name


def _check_endpoint(role: Role, endpoint: str | None) -> None:
    if endpoint is not None and not ENDPOINT_PATTERN.fullmatch(endpoint):
        raise BadUser(f"endpoint {endpoint[:ENDPOINT_MAX + 8]!r} is not 1 to {ENDPOINT_MAX} of A-Z a-z 0-9 . _ -")
    if role == Role.AGENT and endpoint is None:
        # an agent's calls, pops and recordings are found by endpoint: without one they would see none
        raise BadUser("an agent needs an endpoint (the PJSIP endpoint of their phone, e.g. agent1001)")

