// Shared page pieces: the simulated-PBX banner, notices, the server clock, time formatting.

export const $ = (id) => document.getElementById(id);

export function showBanner(simulated) { $("sim-banner").hidden = !simulated; }

let noticeTimer = null;
export function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = !text;
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

// The server's times are on the PBX clock, which may run `speed` times faster (a sped-up demo).
export const clock = {
  now: Date.now() / 1000, at: performance.now(), speed: 1,
  set(serverNow, speed) { this.now = serverNow; this.at = performance.now(); if (speed) this.speed = speed; },
  server() { return this.now + ((performance.now() - this.at) / 1000) * this.speed; },
};

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? `${h}:` : "") + `${mm}:${String(r).padStart(2, "0")}`;
}

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function linkStatus(state, detail) {
  const link = $("link");
  link.className = "link " + state;
  link.textContent = { live: "live", connecting: "connecting…", down: detail || "disconnected",
    reconnecting: `reconnecting… ${detail || ""}` }[state] || state;
}
