// The supervisor's live view: agents, queues and calls from /ws (the staff's stream).

import { signOut, toLogin } from "./api.js";
import { $, clock, duration, el, linkStatus, notice, showBanner } from "./common.js";
import { DeskSocket } from "./socket.js";

const S = { agents: new Map(), queues: [], calls: new Map() };

function onMessage(m) {
  if (m.now !== undefined && (m.type === "snapshot" || m.type === "heartbeat")) clock.set(m.now, m.speed);
  if (m.type === "snapshot") {
    if (m.me.role === "agent") { location.assign("/agent"); return; }
    $("me-name").textContent = m.me.display_name;
    showBanner(m.simulated);
    S.agents = new Map(m.agents.map((a) => [a.agent_id, a]));
    S.queues = m.queues;
    S.calls = new Map(m.calls.map((c) => [c.call_id, c]));
  } else if (m.type === "agent_state") S.agents.set(m.agent_id, m);
  else if (m.type === "queue_stats") S.queues = m.queues;
  else if (m.type === "call") {
    if (m.event === "ended") S.calls.delete(m.call.call_id); else S.calls.set(m.call.call_id, m.call);
  } else if (m.type === "pbx") notice(m.up ? "" : "The phone system is down.");
  render();
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function render() {
  const now = clock.server();
  $("queues").replaceChildren(...S.queues.map((q) => row([q.queue, q.waiting, duration(q.longest_wait), q.free_agents])));
  $("agents").replaceChildren(...[...S.agents.values()].map((a) => {
    const pill = el("td");
    pill.append(el("span", a.state.replace("_", " "), "pill state-" + a.state));
    return row([a.name, pill, a.reason || "", duration(now - a.since), a.call_id || ""]);
  }));
  $("calls").replaceChildren(...[...S.calls.values()].map((c) => row([c.caller || "", c.status, c.queue || "",
    c.agent || "", duration(c.waited)])));
  $("calls-count").textContent = `(${S.calls.size})`;
}

$("sign-out").addEventListener("click", () => signOut());
new DeskSocket({ onMessage, onStatus: linkStatus, onSignedOut: toLogin }).start();
setInterval(render, 1000);
