// HTTP helpers shared by the pages: JSON in and out, sign-in on 401, errors with the server's reason.

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function toLogin() {
  location.assign("/login?next=" + encodeURIComponent(location.pathname));
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "sign in first");
  }
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : `request failed (${response.status})`;
    throw new ApiError(response.status, detail);
  }
  return data;
}

export async function signOut() {
  await api("POST", "/api/auth/logout").catch(() => {});
  toLogin();
}
