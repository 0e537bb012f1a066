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
  body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
         background: #f4f6f9; min-height: 100vh; display: flex; flex-direction: column; }
  .banner { background: repeating-linear-gradient(135deg, #fde68a 0 18px, #fcd34d 18px 36px); color: #451a03;
            text-align: center; font-weight: 600; padding: .35rem; font-size: .9rem; }
  .topbar { padding: .6rem 1.2rem; background: #0f172a; color: #e2e8f0; font-weight: 700; letter-spacing: .02em; }
  main { flex: 1; display: grid; place-items: center; }
  form { display: grid; gap: .8rem; width: 20rem; background: #fff; border: 1px solid #dde3ea; border-radius: 10px;
         padding: 1.6rem; box-shadow: 0 1px 3px rgba(15, 23, 42, .08); }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  label { display: grid; gap: .25rem; font-size: .9rem; color: #677587; }
  input { font-size: 1rem; padding: .5rem .6rem; border: 1px solid #cbd5e1; border-radius: 6px; color: #1d2733; }
  input:focus { outline: 2px solid #2563eb; outline-offset: 1px; }
  button { font-size: 1rem; padding: .6rem; border: 0; border-radius: 6px; background: #2563eb; color: #fff;
           font-weight: 600; cursor: pointer; }
  button:disabled { background: #94a3b8; cursor: wait; }
  #message { min-height: 1.3rem; margin: 0; color: #b91c1c; font-size: .9rem; }
  #message.ok { color: #15803d; }
</style>
</head>
<body>
<!--banner-->
<div class="topbar">Call center</div>
<main>
<form id="login">
  <h1>Sign in</h1>
  <label>Login name <input name="login" autocomplete="username" required maxlength="64" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
  <p id="message" role="status"></p>
</form>
</main>
<script>
const form = document.getElementById("login");
const message = document.getElementById("message");
const button = form.querySelector("button");
// where each role works, unless the page that sent us here asked for another (?next=/path on this site)
const HOME = {agent: "/agent", supervisor: "/supervisor", admin: "/supervisor"};
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.className = "";
  message.textContent = "";
  button.disabled = true;
  const body = JSON.stringify({login: form.login.value, password: form.password.value});
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST", headers: {"Content-Type": "application/json"}, body, credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      message.className = "ok";
      message.textContent = `Signed in as ${answer.user.display_name} (${answer.user.role}).`;
      form.password.value = "";
      const next = new URLSearchParams(location.search).get("next");
      const safe = next && next.startsWith("/") && !next.startsWith("//") ? next : HOME[answer.user.role];
      if (safe) location.assign(safe);
    } else {
      message.textContent = typeof answer.detail === "string" ? answer.detail : `Sign-in failed (${response.status})`;
    }
  } catch (error) {
    message.textContent = "The server cannot be reached; try again in a moment.";
  } finally {
    button.disabled = false;
  }
});
</script>
</body>
</html>
"""


SIMULATED_BANNER = ('<div class="banner" role="note">SIMULATED PBX: no real Asterisk, no real calls; callers '
                    'and agents are bots</div>')


def render_login_page(simulated: bool) -> str:
    """The page, with the banner every page shows when the PBX is the built-in simulator."""
    return LOGIN_PAGE.replace("<!--banner-->", SIMULATED_BANNER if simulated else "")


def _sha256(kind: str) -> str:
    body = re.search(f"<{kind}>(.*)</{kind}>", LOGIN_PAGE, re.S)
    assert body is not None
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode() + "'"


# Only this page's own script and style run: an injected one would not.
CONTENT_SECURITY_POLICY = (f"default-src 'none'; script-src {_sha256('script')}; style-src {_sha256('style')}; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'")
