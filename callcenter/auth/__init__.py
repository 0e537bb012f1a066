"""Sign-in and roles: users (agent / supervisor / admin), sessions behind an HttpOnly cookie, the login
rate limit, the sign-in audit trail, and the FastAPI dependencies that every protected route uses."""
