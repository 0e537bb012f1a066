// The IVR administration page: the flows with their state and errors, the diagram of the version in
// service (an SVG the server draws), and the YAML, which an administrator edits and saves. A save is
// checked by the server first: a failing edit is refused with every problem and the running flow stays.

import { ApiError, api, signOut } from "./api.js";
import { $, el, notice, showBanner } from "./common.js";

const S = { flows: [], selected: null, canEdit: false };

async function start() {
  const me = (await api("GET", "/api/auth/me")).user;
  $("me-name").textContent = me.display_name;
  if (me.role === "agent") { location.assign("/agent"); return; }
  S.canEdit = me.role === "admin";
  $("save").disabled = !S.canEdit;
  $("save").title = S.canEdit ? "" : "only administrators change flows";
  const config = await api("GET", "/api/desktop/config").catch(() => ({}));
  showBanner(Boolean(config.simulated));
  await loadFlows();
  const wanted = new URLSearchParams(location.search).get("flow");
  const first = S.flows.find((f) => f.name === wanted) || S.flows[0];
  if (first) await select(first.name);
}

async function loadFlows() {
  S.flows = await api("GET", "/api/ivr/flows");
  $("flows").replaceChildren(...S.flows.map((f) => {
    const tr = el("tr");
    tr.dataset.flow = f.name;
    if (f.name === S.selected) tr.className = "selected";
    const name = el("td");
    const link = el("a", f.name);
    link.href = "?flow=" + encodeURIComponent(f.name);
    link.addEventListener("click", (event) => { event.preventDefault(); select(f.name); });
    name.append(link);
    const state = f.errors.length ? (f.nodes === null ? "broken" : "edit failed") : "in service";
    const numbers = f.dnis.join(", ") + (f.default ? " (and any other)" : "") || "–";
    tr.append(name, el("td", numbers), el("td", state, f.errors.length ? "bad-text" : ""));
    return tr;
  }));
}

function showErrors(errors) {
  $("flow-errors").hidden = !errors.length;
  $("error-list").replaceChildren(...errors.map((e) => {
    const where = `line ${e.line}, column ${e.column}` + (e.node ? `, node ${e.node}` : "");
    return el("li", `${where}: ${e.message}`);
  }));
}

async function select(name) {
  S.selected = name;
  const flow = S.flows.find((f) => f.name === name);
  $("flow-card").hidden = false;
  $("flow-title").textContent = name + (flow.default ? " (the default flow)" : "");
  showErrors(flow.errors);
  const response = await fetch(`/api/ivr/flows/${encodeURIComponent(name)}`, { credentials: "same-origin" });
  $("yaml").value = response.ok ? await response.text() : "";
  const picture = $("diagram");
  picture.hidden = flow.nodes === null;  // nothing of a never-valid file is in service
  if (flow.nodes !== null) picture.src = `/api/ivr/flows/${encodeURIComponent(name)}/diagram?t=${Date.now()}`;
  $("save-result").textContent = "";
  for (const tr of $("flows").children) tr.className = tr.dataset.flow === name ? "selected" : "";
}

async function save() {
  const name = S.selected;
  $("save").disabled = true;
  $("save-result").textContent = "checking…";
  try {
    const response = await fetch(`/api/ivr/flows/${encodeURIComponent(name)}`, {
      method: "PUT", credentials: "same-origin", headers: { "Content-Type": "application/yaml" },
      body: $("yaml").value,
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      $("save-result").textContent = "saved: in service now";
      showErrors([]);
      await loadFlows();
      await select(name);
      $("save-result").textContent = "saved: in service now";
    } else {
      $("save-result").textContent = typeof data.detail === "string" ? data.detail : `refused (${response.status})`;
      showErrors(data.errors || []);
    }
  } catch (error) {
    notice(error instanceof ApiError ? error.message : "the server could not be reached");
    $("save-result").textContent = "";
  } finally {
    $("save").disabled = !S.canEdit;
  }
}

$("save").addEventListener("click", save);
$("sign-out").addEventListener("click", () => signOut());
start().catch((error) => notice(error.message || String(error)));
