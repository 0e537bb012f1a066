"""HTTP side of sign-in: the session cookie, the dependencies that guard every route, and the routes of
`/api/auth` and `/api/users`.

The cookie is HttpOnly (page scripts cannot read it) and SameSite=Strict (no other site's page can
make the browser send it, which also keeps cross-site requests from acting as the user).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.requests import HTTPConnection

from callcenter.auth.errors import Forbidden
from callcenter.auth.schemas import LoginIn, PasswordChangeIn, PasswordResetIn, UserIn, UserPatchIn
from callcenter.auth.service import AuthService, Role, SignedIn, SignInAttempt, User, UserChanges

COOKIE = "cc_session"


@dataclass(frozen=True, slots=True)
class Me:
    user: User
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    ended: int


class Guard:
    """FastAPI dependencies: `Depends(guard.user)` for any signed-in user, `Depends(guard.role(...))`
    for some roles. They take an `HTTPConnection`, so they serve websocket handshakes too."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    async def user(self, connection: HTTPConnection) -> SignedIn:
        return await self.service.authenticate(connection.cookies.get(COOKIE))

    def role(self, *roles: Role) -> Callable[[SignedIn], Awaitable[SignedIn]]:
        allowed = frozenset(roles)
        needed = " or ".join(r.value for r in roles)

        async def require(signed_in: Annotated[SignedIn, Depends(self.user)]) -> SignedIn:
            if signed_in.user.role not in allowed:
                raise Forbidden(f"needs the role {needed} (you are {signed_in.user.role.value})")
            return signed_in

        return require


def _client(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


def auth_routes(service: AuthService, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api/auth", tags=["auth"])
    settings = service.settings
    Current = Annotated[SignedIn, Depends(guard.user)]

    def secure(request: Request) -> bool:
        if settings.cookie_secure == "auto":
            return request.url.scheme == "https"
        return settings.cookie_secure == "always"

    def forget_cookie(request: Request, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure(request))

    @router.post("/login")
    async def login(body: LoginIn, request: Request, response: Response) -> Me:
        """Sign in. Sets the session cookie; 401 on a wrong name or password, 429 (Retry-After) after
        too many failures of one login name or from one address."""
        ip, user_agent = _client(request)
        new = await service.login(body.login, body.password, ip=ip, user_agent=user_agent)
        response.set_cookie(COOKIE, new.token, max_age=settings.session_max_seconds, path="/", httponly=True,
                            samesite="strict", secure=secure(request))
        return Me(new.signed_in.user, new.signed_in.expires_at)

    @router.post("/logout", status_code=204)
    async def logout(signed_in: Current, request: Request, response: Response) -> None:
        """End this session."""
        await service.logout(signed_in.session_id)
        forget_cookie(request, response)

    @router.post("/logout-all")
    async def logout_all(signed_in: Current, request: Request, response: Response) -> SessionsEnded:
        """Sign out everywhere: end every session of this user, this one included."""
        ended = await service.logout_all(signed_in.user.id)
        forget_cookie(request, response)
        return SessionsEnded(ended)

    @router.get("/me")
    async def me(signed_in: Current) -> Me:
        return Me(signed_in.user, signed_in.expires_at)

    @router.post("/password", status_code=204)
    async def change_password(body: PasswordChangeIn, signed_in: Current) -> None:
        """Change your own password (the current one is needed); your other sessions end."""
        await service.change_password(signed_in, body.current_password, body.new_password)

    @router.get("/sign-ins", dependencies=[Depends(guard.role(Role.ADMIN))])
    async def sign_ins(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[SignInAttempt]:
        """The audit trail of sign-in attempts, newest first (admin)."""
        return await service.sign_ins(limit)

    return router


def user_routes(service: AuthService, guard: Guard) -> APIRouter:
    """User administration (admin only)."""
    router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[Depends(guard.role(Role.ADMIN))])

    @router.get("")
    async def users() -> list[User]:
        return await service.users()

    @router.post("", status_code=201)
    async def create_user(body: UserIn) -> User:
        return await service.create_user(body.login, body.display_name, body.role, body.password,
                                         endpoint=body.endpoint)

    @router.get("/{user_id}")
    async def user(user_id: int) -> User:
        return await service.user(user_id)

    @router.patch("/{user_id}")
    async def update_user(user_id: int, body: UserPatchIn) -> User:
        """Change name, role, endpoint (null removes it) or disabled; disabling ends the user's sessions."""
        clear = "endpoint" in body.model_fields_set and body.endpoint is None
        return await service.update_user(user_id, UserChanges(
            display_name=body.display_name, role=body.role, endpoint=body.endpoint, clear_endpoint=clear,
            disabled=body.disabled))

    @router.post("/{user_id}/password", status_code=204)
    async def reset_password(user_id: int, body: PasswordResetIn) -> None:
        """Set a user's password; every session of that user ends."""
        await service.reset_password(user_id, body.new_password)

    return router
