"""Sign-in on the data layer (SQLite and PostgreSQL): users, sessions, expiry on an injected clock,
the rate limit, sign-out everywhere, the audit trail, user administration rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from auth_support import PASSWORD, START, SteppingClock, call_center
from sqlalchemy import select

from callcenter.app import CallCenter
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
from callcenter.auth.models import SessionRow, SignInRow, UserRow
from callcenter.auth.ratelimit import LoginRateLimiter
from callcenter.auth.service import AuthService, NewSession, Role, UserChanges, token_hash

IP = "192.0.2.7"


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def center(database_url: str, tmp_path: Path, clock: SteppingClock) -> AsyncIterator[CallCenter]:
    async with call_center(database_url, tmp_path, clock) as center:
        yield center


async def _login(auth: AuthService, login: str = "ada", password: str = PASSWORD, ip: str = IP) -> NewSession:
    return await auth.login(login, password, ip=ip, user_agent="pytest")


async def _attempts(center: CallCenter) -> list[tuple[str, bool, str]]:
    return [(a.login, a.success, a.reason) for a in reversed(await center.auth.sign_ins())]


async def test_sign_in_stores_only_the_hash_of_the_token(center: CallCenter) -> None:
    new = await _login(center.auth, " Ada ")  # the login name is trimmed and any case
    assert new.signed_in.user.login == "ada" and new.signed_in.user.role == Role.AGENT
    assert new.signed_in.user.endpoint == "agent1001"
    assert new.signed_in.expires_at == START.replace(hour=21)  # 12 h
    assert len(new.token) >= 43
    async with center.sessions() as session:
        stored = (await session.scalars(select(SessionRow))).one()
        user = (await session.scalars(select(UserRow).where(UserRow.login == "ada"))).one()
    assert stored.token_hash == token_hash(new.token) and new.token not in stored.token_hash
    assert (stored.ip, stored.user_agent, stored.revoked_at) == (IP, "pytest", None)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert (await center.auth.authenticate(new.token)).user.login == "ada"
    assert await _attempts(center) == [("ada", True, "ok")]


@pytest.mark.parametrize(("login", "password", "reason"), [
    ("ada", "wrong password!", "bad_password"),
    ("nobody", PASSWORD, "unknown_user"),
])
async def test_failed_sign_ins_say_nothing_but_are_audited(center: CallCenter, login: str, password: str,
                                                           reason: str) -> None:
    with pytest.raises(SignInFailed, match=r"^wrong login name or password$"):
        await _login(center.auth, login, password)
    assert await _attempts(center) == [(login, False, reason)]
    async with center.sessions() as session:
        assert (await session.scalars(select(SessionRow))).all() == []


async def test_a_disabled_user_cannot_sign_in_and_loses_their_sessions(center: CallCenter) -> None:
    before = await _login(center.auth)
    ada = next(u for u in await center.auth.users() if u.login == "ada")
    await center.auth.update_user(ada.id, UserChanges(disabled=True))
    with pytest.raises(NotSignedIn, match="signed out"):
        await center.auth.authenticate(before.token)
    with pytest.raises(SignInFailed):
        await _login(center.auth)
    assert (await _attempts(center))[-1] == ("ada", False, "disabled")
    await center.auth.update_user(ada.id, UserChanges(disabled=False))
    await _login(center.auth)


async def test_idle_and_absolute_expiry(center: CallCenter, clock: SteppingClock) -> None:
    token = (await _login(center.auth)).token
    for _ in range(28):  # active every 25 minutes: the idle limit (30 min) never ends the session
        clock.advance(25 * 60)
        await center.auth.authenticate(token)
    clock.advance(12 * 3600 - 28 * 25 * 60)  # exactly 12 h after sign-in
    with pytest.raises(NotSignedIn, match=r"^session expired: sign in again$"):
        await center.auth.authenticate(token)

    idle = (await _login(center.auth)).token
    clock.advance(30 * 60 - 1)
    await center.auth.authenticate(idle)
    clock.advance(30 * 60)
    with pytest.raises(NotSignedIn, match="after inactivity"):
        await center.auth.authenticate(idle)


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
async def test_no_or_unknown_token(center: CallCenter, token: str | None) -> None:
    with pytest.raises(NotSignedIn):
        await center.auth.authenticate(token)


async def test_rate_limit_per_login_name(center: CallCenter, clock: SteppingClock) -> None:
    for n in range(5):
        clock.advance(10)
        with pytest.raises(SignInFailed):
            await _login(center.auth, password=f"guess {n}", ip=f"198.51.100.{n}")
    with pytest.raises(RateLimited) as limited:
        await _login(center.auth)  # even the right password, from yet another address
    # the first failure (at +10 s) leaves the 300 s window at +310 s; it is now +50 s
    assert limited.value.retry_after == 260
    assert limited.value.headers == {"Retry-After": "260"}
    assert (await _attempts(center))[-1] == ("ada", False, "rate_limited")
    await _login(center.auth, "bob")  # other names are not affected
    clock.advance(260)
    await _login(center.auth)


async def test_rate_limit_per_address(center: CallCenter, clock: SteppingClock) -> None:
    for n in range(20):
        with pytest.raises(SignInFailed):
            await _login(center.auth, f"user{n}", "guess")
    with pytest.raises(RateLimited):
        await _login(center.auth, "sue")
    await _login(center.auth, "sue", ip="203.0.113.1")
    clock.advance(300)
    await _login(center.auth, "sue")


async def test_logout_and_logout_everywhere(center: CallCenter) -> None:
    first, second, third = [await _login(center.auth) for _ in range(3)]
    other = await _login(center.auth, "bob")
    await center.auth.logout(first.signed_in.session_id)
    with pytest.raises(NotSignedIn, match="signed out"):
        await center.auth.authenticate(first.token)
    await center.auth.authenticate(second.token)
    assert await center.auth.logout_all(second.signed_in.user.id) == 2
    for ended in (second, third):
        with pytest.raises(NotSignedIn):
            await center.auth.authenticate(ended.token)
    assert (await center.auth.authenticate(other.token)).user.login == "bob"


async def test_sessions_checked_together_as_authenticate_would(center: CallCenter, clock: SteppingClock) -> None:
    """The open websockets' check: each session's user, or authenticate's reason; those in use are
    touched (kept from the idle limit) as authenticate does; an unknown id is an unknown session."""
    active, signed_out, idle = [await _login(center.auth) for _ in range(3)]
    bob = await _login(center.auth, "bob")
    await center.auth.logout(signed_out.signed_in.session_id)
    clock.advance(20 * 60)
    await center.auth.check_sessions([active.signed_in.session_id, bob.signed_in.session_id])  # touched
    clock.advance(15 * 60)  # 35 min after sign-in: `idle` was last seen 35 min ago, the others 15
    ids = [s.signed_in.session_id for s in (active, signed_out, idle, bob)]
    verdicts = await center.auth.check_sessions([*ids, 999_999])
    assert {k: v if isinstance(v, str) else v.user.login for k, v in verdicts.items()} == {
        ids[0]: "ada", ids[1]: "signed out: sign in again",
        ids[2]: "session expired after inactivity: sign in again", ids[3]: "bob",
        999_999: "unknown session: sign in again"}
    assert (await center.auth.authenticate(active.token)).session_id == ids[0]
    assert await center.auth.check_sessions([]) == {}


async def test_password_change_and_reset(center: CallCenter) -> None:
    here, elsewhere = await _login(center.auth), await _login(center.auth)
    with pytest.raises(WrongPassword):
        await center.auth.change_password(here.signed_in, "not it", "a new password")
    with pytest.raises(BadUser, match="at least 10 characters"):
        await center.auth.change_password(here.signed_in, PASSWORD, "short")
    await center.auth.change_password(here.signed_in, PASSWORD, "a new password")
    await center.auth.authenticate(here.token)  # this session stays, the others end
    with pytest.raises(NotSignedIn):
        await center.auth.authenticate(elsewhere.token)
    with pytest.raises(SignInFailed):
        await _login(center.auth)
    await _login(center.auth, password="a new password")

    await center.auth.reset_password(here.signed_in.user.id, "set by the admin")
    with pytest.raises(NotSignedIn):
        await center.auth.authenticate(here.token)
    await _login(center.auth, password="set by the admin")
    with pytest.raises(UnknownUser, match="no user with id 999"):
        await center.auth.reset_password(999, "set by the admin")


async def test_user_rules(center: CallCenter) -> None:
    auth = center.auth
    with pytest.raises(UserExists, match="'ada' exists"):
        await auth.create_user("ADA", "Ada again", Role.SUPERVISOR, PASSWORD)
    with pytest.raises(UserExists, match="endpoint 'agent1001' belongs to user 'ada'"):
        await auth.create_user("eve", "Eve", Role.AGENT, PASSWORD, endpoint="agent1001")
    with pytest.raises(BadUser, match="an agent needs an endpoint"):
        await auth.create_user("eve", "Eve", Role.AGENT, PASSWORD)
    with pytest.raises(BadUser, match="login name 'eve smith' is not"):
        await auth.create_user("eve smith", "Eve", Role.SUPERVISOR, PASSWORD)
    with pytest.raises(BadUser, match="endpoint 'PJSIP/agent1003' is not"):
        await auth.create_user("eve", "Eve", Role.AGENT, PASSWORD, endpoint="PJSIP/agent1003")
    with pytest.raises(BadUser, match="display name"):
        await auth.create_user("eve", "   ", Role.SUPERVISOR, PASSWORD)
    eve = await auth.create_user("eve", " Eve ", Role.AGENT, PASSWORD, endpoint="agent1003")
    assert (eve.display_name, eve.disabled, eve.created_at) == ("Eve", False, START)

    moved = await auth.update_user(eve.id, UserChanges(role=Role.SUPERVISOR, clear_endpoint=True))
    assert (moved.role, moved.endpoint) == (Role.SUPERVISOR, None)
    with pytest.raises(BadUser, match="an agent needs an endpoint"):
        await auth.update_user(eve.id, UserChanges(role=Role.AGENT))
    with pytest.raises(UserExists, match="belongs to user 'bob'"):
        await auth.update_user(eve.id, UserChanges(role=Role.AGENT, endpoint="agent1002"))
    with pytest.raises(UnknownUser):
        await auth.update_user(999, UserChanges(disabled=True))


async def test_the_last_admin_stays(center: CallCenter) -> None:
    root = next(u for u in await center.auth.users() if u.login == "root")
    with pytest.raises(LastAdmin):
        await center.auth.update_user(root.id, UserChanges(disabled=True))
    with pytest.raises(LastAdmin):
        await center.auth.update_user(root.id, UserChanges(role=Role.SUPERVISOR))
    await center.auth.create_user("root2", "Second admin", Role.ADMIN, PASSWORD)
    assert (await center.auth.update_user(root.id, UserChanges(role=Role.SUPERVISOR))).role == Role.SUPERVISOR


async def test_a_password_hashed_with_old_parameters_is_rehashed_at_sign_in(center: CallCenter) -> None:
    stronger = AuthService(center.sessions, center.settings.auth, clock=center.auth.clock,
                           hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    await _login(stronger)
    async with center.sessions() as session:
        stored = await session.scalar(select(UserRow.password_hash).where(UserRow.login == "ada"))
    assert stored is not None and "m=16,t=2,p=1" in stored
    await _login(stronger)


async def test_sign_in_audit_is_newest_first_and_bounded(center: CallCenter, clock: SteppingClock) -> None:
    for login in ("ada", "bob", "ada"):
        clock.advance(1)
        await _login(center.auth, login)
    latest = await center.auth.sign_ins(limit=2)
    assert [(a.login, a.at) for a in latest] == [("ada", clock.now), ("bob", clock.now.replace(second=2))]
    async with center.sessions() as session:
        assert len((await session.scalars(select(SignInRow))).all()) == 3


# -- the rate limiter alone (pure) --------------------------------------------------------------

def test_rate_limiter_window_slides() -> None:
    limiter = LoginRateLimiter(per_login=3, per_ip=100, window=60)
    for t in (0, 10, 20):
        assert limiter.retry_after("ada", "a", t) == 0
        limiter.failed("ada", "a", t)
    assert limiter.retry_after("ada", "a", 30) == 30   # the failure at 0 leaves at 60
    assert limiter.retry_after("ada", "a", 60) == 0
    limiter.failed("ada", "a", 60)
    assert limiter.retry_after("ada", "a", 61) == 9    # now 10, 20, 60: blocked until 70
    limiter.succeeded("ada")
    assert limiter.retry_after("ada", "a", 61) == 0
    assert limiter.tracked == (0, 1)


def test_rate_limiter_forgets_old_keys() -> None:
    limiter = LoginRateLimiter(per_login=2, per_ip=2, window=60)
    for n in range(100):
        limiter.failed(f"user{n}", f"ip{n}", 0)
    assert limiter.tracked == (100, 100)
    assert limiter.retry_after("user0", "ip0", 61) == 0
    assert limiter.tracked == (99, 99)  # an expired key is dropped when it is next looked at
