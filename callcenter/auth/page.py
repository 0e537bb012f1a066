"""The login page: plain HTML and a small script, nothing from a CDN. It posts JSON to
`/api/auth/login`; the session cookie it gets back is HttpOnly, so the script never sees it."""

from __future__ import annotations

import base64
import hashlib
import re

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Call center: sign in</title>
<style>
  body { font-family: system-ui, sans-serif; display: grid; place-items: center; min-height: 90vh; }
  form { display: grid; gap: .6rem; width: 18rem; }
  input, button { font-size: 1rem; padding: .4rem; }
  #message { min-height: 1.4rem; color: #a00; }
  #message.ok { color: #060; }
</style>
</head>
<body>
<form id="login">
  <h1>Sign in</h1>
  <label>Login name <input name="login" autocomplete="username" required maxlength="64" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
  <p id="message" role="status"></p>
</form>
<script>
const form = document.getElementById("login");
const message = document.getElementById("message");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.className = "";
  message.textContent = "";
  const body = JSON.stringify({login: form.login.value, password: form.password.value});
  const response = await fetch("/api/auth/login", {
    method: "POST", headers: {"Content-Type": "application/json"}, body, credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    message.className = "ok";
    message.textContent = `Signed in as ${answer.user.display_name} (${answer.user.role}).`;
    form.password.value = "";
    const next = new URLSearchParams(location.search).get("next");
    if (next && next.startsWith("/") && !next.startsWith("//")) location.assign(next);
  } else {
    message.textContent = typeof answer.detail === "string" ? answer.detail : `Sign-in failed (${response.status})`;
  }
});
</script>
</body>
</html>
"""


def _sha256(kind: str) -> str:
    body = re.search(f"<{kind}>(.*)</{kind}>", LOGIN_PAGE, re.S)
    assert body is not None
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode() + "'"


# Only this page's own script and style run: an injected one would not.
CONTENT_SECURITY_POLICY = (f"default-src 'none'; script-src {_sha256('script')}; style-src {_sha256('style')}; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
