// The agent desktop: state, screen pop, call controls, after-call form, personal figures.
// All data arrive over /ws (socket.js); every action is an HTTP call (api.js) or the phone (phone.js).

import { api, signOut, toLogin } from "./api.js";
import { $, clock, duration, el, linkStatus, notice, showBanner } from "./common.js";
import { SimulatedPhone, WebRtcPhone } from "./phone.js";
import { DeskSocket } from "./socket.js";

const S = {
  me: null, agent: null, call: null, pops: {}, after: null, figures: null, queues: [],
  dispositions: [], pauseReasons: [], simulated: false, phone: null, savedCalls: new Set(),
};

const STATE_NAMES = { logged_out: "Logged out", available: "Ready", reserved: "Ringing", on_call: "On a call",
  wrap_up: "Wrap-up", not_ready: "Not ready" };
const CALL_NAMES = { ringing: "Incoming call", talking: "Talking", held: "On hold", no_agent: "Call ended",
  ended: "Call ended", waiting: "Waiting", ivr: "In the menu", consulting: "Consulting" };

// ---- messages ---------------------------------------------------------------------------------------
function onMessage(m) {
  if (m.now !== undefined && (m.type === "snapshot" || m.type === "heartbeat")) clock.set(m.now, m.speed);
  if (m.type === "snapshot") return snapshot(m);
  if (m.type === "agent_state") { S.agent = m; if (m.state === "wrap_up" && m.wrap_up_call) afterCall(m.wrap_up_call); }
  else if (m.type === "screen_pop") { S.pops[m.call_id] = m; if (!S.call || S.call.call_id === m.call_id) ensureCall(m); }
  else if (m.type === "call") onCall(m);
  else if (m.type === "figures") S.figures = m;
  else if (m.type === "pbx") notice(m.up ? "" : "The phone system is down: calls cannot reach you.");
  render();
}

function snapshot(m) {
  S.me = m.me; S.agent = m.agent; S.figures = m.figures; S.queues = m.queues || []; S.serving = m.serving || S.queues;
  S.dispositions = m.dispositions; S.pauseReasons = m.pause_reasons.filter((r) => r !== "ring-no-answer");
  S.simulated = m.simulated;
  S.call = m.call; S.after = null;
  if (m.call && m.call.screen_pop) S.pops[m.call.call_id] = m.call.screen_pop;
  if (m.after_call) {
    if (m.after_call.screen_pop) S.pops[m.after_call.call_id] = m.after_call.screen_pop;
    if (!S.savedCalls.has(m.after_call.call_id)) S.after = m.after_call;
  }
  showBanner(m.simulated);
  if (m.me.role !== "agent") { location.assign("/supervisor"); return; }
  fillSelects();
  if (!S.phone) setUpPhone();
  render();
}

function ensureCall(pop) {
  S.call = { call_id: pop.call_id, status: "ringing", caller: pop.caller, queue: pop.queue,
    ringing_since: pop.ringing_since, connected_at: null, held_since: null };
}

// An attended transfer: the call stays the consulting agent's (call.agent); the agent consulted sees it too
// (call.consultation.target_agent) until the transfer makes it theirs, or the consultation ends.
const consultedOnly = (call) => Boolean(S.me && call.consultation && call.agent !== S.me.endpoint
  && call.consultation.target_agent === S.me.endpoint);

function onCall(m) {
  const call = m.call, mine = S.me && (call.agent === S.me.endpoint || consultedOnly(call));
  if (mine) {
    if (!S.call || S.call.call_id !== call.call_id) S.after = null;
    S.call = call;
  } else if (S.call && S.call.call_id === call.call_id) {
    // I am no longer on it (hung up, transferred, the caller left): the after-call form opens; only
    // consulted on it (the consultation is over), I simply drop it
    S.call = null;
    if (m.event !== "consult_ended") afterCall(call.call_id, call);
  }
}

function afterCall(callId, call) {
  if (S.savedCalls.has(callId) || (S.after && S.after.call_id === callId)) return;
  S.after = call || { call_id: callId, caller: (S.pops[callId] || {}).caller };
  $("after-saved").textContent = "";
  $("after-form").reset();
  ticketMode();
}

// ---- rendering -------------------------------------------------------------------------------------
function render() {
  if (!S.me) return;
  $("me-name").textContent = S.me.display_name;
  $("me-endpoint").textContent = S.me.endpoint;
  renderState();
  renderCall();
  renderPop();
  renderAfter();
  renderFigures();
}

function renderState() {
  const a = S.agent, state = a.state;
  const pill = $("state-pill");
  pill.className = "pill state-" + state;
  pill.textContent = STATE_NAMES[state] + (state === "not_ready" && a.reason ? ` · ${a.reason}` : "");
  $("login").hidden = state !== "logged_out";
  $("ready").hidden = state !== "not_ready";
  $("pause").parentElement.hidden = state === "logged_out" || state === "not_ready";
  $("pause").textContent = ["available", "not_ready"].includes(state) ? "Not ready" : "Not ready after this call";
  $("logout").hidden = state === "logged_out";
  $("wrapup").hidden = state !== "wrap_up";
  $("pending").hidden = !a.pending;
  $("pending").textContent = a.pending ? `After this call: ${a.pending.replace("pause:", "not ready, ")}` : "";
  renderQueues();
}

// One box per queue assigned to me; ticked: I take its callers. Changed at once (live when logged in).
function renderQueues() {
  const box = $("queues");
  const shown = [...box.querySelectorAll("input")].map((i) => i.value).join(",");
  if (shown !== S.queues.join(",")) {
    box.replaceChildren(...S.queues.map((queue) => {
      const label = el("label", null, "choice");
      const tick = el("input");
      tick.type = "checkbox"; tick.value = queue; tick.name = "queue";
      tick.addEventListener("change", chooseQueues);
      label.append(tick, document.createTextNode(" " + queue));
      return label;
    }));
  }
  for (const tick of box.querySelectorAll("input")) tick.checked = S.serving.includes(tick.value);
}

async function chooseQueues() {
  const chosen = [...$("queues").querySelectorAll("input:checked")].map((i) => i.value);
  if (!chosen.length) { notice("Keep at least one queue."); renderQueues(); return; }
  try {
    const agent = await api("PUT", agentPath("queues"), { queues: chosen });
    S.serving = agent.serving;
  } catch (error) { notice(error.message); }
  renderQueues();
}

function renderCall() {
  const call = S.call, card = $("call-card");
  const consult = call && call.consultation;
  const consulted = call && consultedOnly(call);  // someone consults me; not my call (yet)
  const consulting = consult && !consulted;  // I consult someone; the caller holds
  const status = consulted ? (consult.state === "ringing" ? "ringing" : "talking") : call ? call.status : "idle";
  card.className = "card call " + status;
  $("call-status").textContent = consulted ? `Consultation from ${consult.agent}`
    : call ? CALL_NAMES[status] || status : "No call";
  const pop = call && S.pops[call.call_id];
  const name = pop && pop.customer ? pop.customer.name : null;
  $("call-caller").textContent = call ? (name ? `${name} · ${call.caller || ""}` : call.caller || "unknown number")
    : (S.agent.state === "available" ? "Waiting for the next caller" : "Not taking calls");
  const talking = call && !consulted && ["talking", "held"].includes(status);
  $("answer").disabled = !(call && status === "ringing");
  $("hangup").disabled = !(call && ["ringing", "talking", "held"].includes(status));
  $("hangup").title = consulting ? "Complete or cancel the transfer first" : "";
  $("hold").disabled = !talking;
  $("hold").textContent = status === "held" ? "Resume" : "Hold";
  $("hold").classList.toggle("active", status === "held");
  $("mute").disabled = !talking || !S.phone || !S.phone.canMute;
  $("mute").title = S.phone && !S.phone.canMute ? "The simulated phone has no microphone" : "";
  for (const id of ["dtmf", "dtmf-send", "transfer", "transfer-to", "transfer-kind"]) $(id).disabled = !talking;
  $("transfer-attended").disabled = !talking || $("transfer-kind").value === "queue";
  $("consult").hidden = !consulting;
  if (consulting) {
    const who = consult.target_agent || consult.to || "";
    $("consult-status").textContent = consult.state === "ringing" ? `Calling ${who}…` : `Talking to ${who}`;
    $("consult-complete").disabled = consult.state !== "talking";
  }
}

function renderPop() {
  const id = S.call ? S.call.call_id : S.after ? S.after.call_id : null;
  const pop = id && S.pops[id];
  $("pop").hidden = !pop;
  if (!pop) return;
  const c = pop.customer;
  $("pop-name").textContent = c ? c.name : "Unknown caller";
  const how = pop.identified_by === "ivr" ? "identified in the IVR" : "identified by the calling number";
  $("pop-sub").textContent = c ? [c.company, `customer ${c.reference}`, c.segment, how].filter(Boolean).join(" · ")
    : "No customer has this number";
  $("pop-vip").hidden = !pop.vip;
  $("pop-number").textContent = pop.caller || "–";
  $("pop-dnis").textContent = pop.dnis || "–";
  $("pop-queue").textContent = pop.queue || "–";
  $("pop-waited").textContent = duration(pop.waited);
  const ivr = [pop.ivr.path.join(" › "), pop.ivr.digits ? `keys ${pop.ivr.digits}` : ""].filter(Boolean).join(" · ");
  $("pop-ivr").textContent = ivr || "–";
  fillList($("pop-tickets"), pop.open_tickets, (t) => [t.title, `#${t.id} · opened ${t.created_at.slice(0, 10)}`],
    "No open tickets");
  fillList($("pop-history"), pop.last_interactions,
    (i) => [`${i.result}${i.notes ? " — " + i.notes : ""}`, `${i.at.slice(0, 16).replace("T", " ")} · ${i.agent}`],
    "No earlier contact");
}

function fillList(list, items, lines, empty) {
  list.replaceChildren();
  if (!items.length) { list.append(el("li", empty, "empty")); return; }
  for (const item of items) {
    const [main, sub] = lines(item);
    const li = el("li", main);
    li.append(el("div", sub, "muted"));
    list.append(li);
  }
}

function renderAfter() {
  const after = S.after;
  $("after").hidden = !after || (S.call && S.call.call_id !== after.call_id && S.call.status === "ringing");
  if (!after) return;
  const pop = S.pops[after.call_id];
  $("after-caller").textContent = `· ${pop && pop.customer ? pop.customer.name : after.caller || ""}`;
  $("after-customer-label").hidden = Boolean(pop && pop.customer);
  const existing = $("ticket-existing");
  const tickets = pop ? pop.open_tickets : [];
  if (existing.dataset.call !== after.call_id) {
    existing.dataset.call = after.call_id;
    existing.replaceChildren(...tickets.map((t) => { const o = el("option", `#${t.id} ${t.title}`); o.value = t.id; return o; }));
  }
  $("ticket-mode").options[2].disabled = !tickets.length;
}

function renderFigures() {
  const f = S.figures || {};
  $("fig-calls").textContent = f.calls_today ?? 0;
  $("fig-aht").textContent = duration(f.average_handle_seconds);
}

// Timers: time in state, wrap-up countdown, call duration (on the PBX clock).
function tick() {
  if (!S.agent) return;
  const now = clock.server();
  const inState = duration(now - S.agent.since);
  $("state-time").textContent = inState;
  $("fig-state").textContent = inState;
  if (S.agent.state === "wrap_up" && S.agent.until) $("wrapup-left").textContent = duration(S.agent.until - now);
  const call = S.call;
  let timer = "";
  if (call && call.status === "ringing" && call.ringing_since) timer = duration(now - call.ringing_since);
  else if (call && call.connected_at) timer = duration(now - call.connected_at);
  $("call-timer").textContent = timer;
}

function fillSelects() {
  $("pause-reason").replaceChildren(...S.pauseReasons.map((r) => el("option", r)));
  $("disposition").replaceChildren(el("option", "— choose —"), ...S.dispositions.map((d) => el("option", d)));
  $("disposition").options[0].value = "";
  $("transfer-targets").replaceChildren(...S.queues.map((q) => { const o = el("option"); o.value = q; return o; }));
}

// ---- the phone -------------------------------------------------------------------------------------
async function setUpPhone() {
  const config = await api("GET", "/api/desktop/config");
  if (config.simulated) { S.phone = new SimulatedPhone(S.me.endpoint); return; }
  if (!config.sip) { notice("No softphone is configured (desktop.sip_wss_url): use your desk phone."); return; }
  const phone = new WebRtcPhone(config.sip, (text) => { $("softphone-status").textContent = text; });
  $("softphone").hidden = false;
  $("sip-register").onclick = () => phone.register($("sip-password").value).catch((e) => notice(e.message));
  S.phone = phone;
}

// ---- actions ---------------------------------------------------------------------------------------
function act(button, action) {
  $(button).addEventListener("click", async () => {
    try { await action(); } catch (error) { notice(error.message); }
  });
}

const agentPath = (what) => `/api/agents/${encodeURIComponent(S.me.endpoint)}/${what}`;
act("login", () => api("POST", agentPath("login")));
act("ready", () => api("POST", agentPath("ready")));
act("pause", () => api("POST", agentPath("pause"), { reason: $("pause-reason").value }));
act("logout", () => api("POST", agentPath("logout")));
act("wrapup-end", () => api("POST", agentPath("wrap-up/end")));
act("wrapup-extend", () => api("POST", agentPath("wrap-up/extend"), { seconds: 30 }));
act("answer", () => S.phone.answer());
act("hangup", () => S.phone.hangup());
act("hold", () => (S.call.status === "held" ? S.phone.resume() : S.phone.hold()));
act("mute", async () => { const muted = await S.phone.mute(); $("mute").classList.toggle("active", muted); });
act("dtmf-send", async () => { await S.phone.dtmf($("dtmf").value.trim()); $("dtmf").value = ""; });
const callPath = (what) => `/api/calls/${encodeURIComponent(S.call.call_id)}/${what}`;
act("transfer", async () => {
  const to = `${$("transfer-kind").value}:${$("transfer-to").value.trim()}`;
  await api("POST", callPath("transfer"), { to, kind: "blind" });
  $("transfer-to").value = "";
});
// attended: consult the agent or number first (the caller holds), then complete or cancel
act("transfer-attended", async () => {
  const to = `${$("transfer-kind").value}:${$("transfer-to").value.trim()}`;
  await api("POST", callPath("transfer"), { to, kind: "attended" });
  $("transfer-to").value = "";
});
act("consult-complete", () => api("POST", callPath("transfer/complete")));
act("consult-cancel", () => api("POST", callPath("transfer/cancel")));
$("transfer-kind").addEventListener("change", render);
act("sign-out", async () => {
  if (S.agent && S.agent.state !== "logged_out") await api("POST", agentPath("logout")).catch(() => {});
  await signOut();
});

function ticketMode() {
  const mode = $("ticket-mode").value;
  $("ticket-title").hidden = mode !== "new";
  $("ticket-existing").hidden = mode !== "solve";
}
$("ticket-mode").addEventListener("change", ticketMode);

$("after-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const after = S.after;
  if (!after) return;
  const mode = $("ticket-mode").value;
  const body = { disposition: $("disposition").value, notes: $("notes").value.trim() || null, ticket: null };
  if (!$("after-customer-label").hidden && $("after-customer").value) body.customer_id = Number($("after-customer").value);
  if (mode === "new") body.ticket = { title: $("ticket-title").value.trim(), description: body.notes };
  if (mode === "solve") body.ticket = { id: Number($("ticket-existing").value), status: "solved" };
  try {
    const saved = await api("POST", `/api/calls/${encodeURIComponent(after.call_id)}/disposition`, body);
    S.savedCalls.add(after.call_id);
    $("after-saved").textContent = `Saved: ${saved.interaction.result}` + (saved.ticket ? `, ticket #${saved.ticket.id}` : "");
    setTimeout(() => { if (S.after === after) { S.after = null; render(); } }, 1500);
  } catch (error) {
    notice(error.message);
  }
});

// ---- start -----------------------------------------------------------------------------------------
const socket = new DeskSocket({ onMessage, onStatus: linkStatus, onSignedOut: toLogin });
socket.start();
setInterval(tick, 250);
