/* The admin dashboard: sign in, then poll the server's JSON routes every few seconds.
   The credentials are kept in memory and in sessionStorage (this tab only), and sent
   only in the Authorization header. */
"use strict";

const POLL_MS = 2000;
const CHART_MAX_MS = 5 * 60 * 1000;  // the server keeps this much history
const CHART_MIN_MS = 60 * 1000;
const MAX_LOG_ROWS = 1000;
const MAX_SESSION_ROWS = 200;  // more is unreadable, and slow to lay out: the filter narrows it
const STORAGE_KEY = "fastport.admin.authorization";
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  authorization: sessionStorage.getItem(STORAGE_KEY),
  timer: null,
  refreshing: false,
  again: false,
  logSeq: 0,
  logSource: "",
  rows: new Map(),  // session name -> its table row (see sessionRow)
  sessionNames: [],  // in table order
  filter: "",
  lastSessions: [],
};

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { "Authorization": state.authorization || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON: reported below */ }
  if (response.status === 401) {
    signOut("Your credentials were refused; please sign in again.");
    throw new ApiError(401, (data && data.error) || "Unauthorized");
  }
  if (!response.ok || (data && data.success === false)) {
    throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  }
  return data;
}

// ------------------------------------------------------------------ sign in / out

function showLogin(message) {
  $("dashboard").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("status").textContent = "";
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
}

function signIn(authorization) {
  state.authorization = authorization;
  sessionStorage.setItem(STORAGE_KEY, authorization);
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("logout").hidden = false;
  resetLogs();
  refresh();
}

function signOut(message) {
  state.authorization = null;
  sessionStorage.removeItem(STORAGE_KEY);
  clearTimeout(state.timer);
  state.timer = null;
  showLogin(message);
}

function selectTab(password) {
  $("tab-password").classList.toggle("current", password);
  $("tab-token").classList.toggle("current", !password);
  $("login-password").hidden = !password;
  $("login-token").hidden = password;
}

async function loginWithPassword(event) {
  event.preventDefault();
  const response = await fetch("/api/admin/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  const data = await response.json().catch(() => ({}));
  $("password").value = "";
  if (!response.ok || !data.success) {
    showLogin(data.error || `Sign-in failed (HTTP ${response.status})`);
    return;
  }
  signIn(`Basic ${data.token}`);
}

async function loginWithToken(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  state.authorization = `Bearer ${token}`;
  try {
    await api("GET", "/api/admin/stats");
  } catch (e) {
    showLogin(e.status === 401 ? "That token is not the admin token." : e.message);
    return;
  }
  signIn(`Bearer ${token}`);
}

// ------------------------------------------------------------------ polling

/** One refresh at a time: a refresh asked for while one runs follows it at once. */
async function refresh() {
  if (state.refreshing) { state.again = true; return; }
  clearTimeout(state.timer);
  if (!state.authorization) return;
  state.refreshing = true;
  try {
    const [stats, sessions] = await Promise.all([api("GET", "/api/admin/stats"), api("GET", "/api/admin/sessions")]);
    renderStats(stats);
    renderSessions(sessions.sessions);
    await pollLogs();
    $("status").textContent = "Live";
    $("updated").textContent = `updated ${formatTime(Date.now())}`;
  } catch (e) {
    if (e.status !== 401) $("status").textContent = `Server unreachable: ${e.message}`;
  } finally {
    state.refreshing = false;
  }
  if (!state.authorization) return;
  if (state.again) {
    state.again = false;
    refresh();
  } else {
    state.timer = setTimeout(refresh, POLL_MS);
  }
}

// ------------------------------------------------------------------ server panel

function card(label, value, sub) {
  return el("div", { class: "card" },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    sub ? el("div", { class: "sub" }, sub) : null);
}

function renderStats(stats) {
  const t = stats.totals, r = stats.rates;
  $("cards").replaceChildren(
    card("Uptime", formatDuration(stats.uptime)),
    card("Memory", formatBytes(stats.memory.rss), `peak ${formatBytes(stats.memory.peakRss)}`),
    card("Connections", formatNumber(stats.connections)),
    card("Sessions", formatNumber(stats.sessions), stats.suspendedSessions ? `${stats.suspendedSessions} suspended` : null),
    card("Published / s", formatRate(r.publish), `${formatNumber(t.published)} in total`),
    card("Delivered / s", formatRate(r.delivery), `${formatNumber(t.delivered)} in total`),
    card("Pending", formatNumber(stats.pendingMessages), `${formatNumber(t.givenUp)} given up`),
    card("Store", stats.dbType, `engine ${stats.engine}`),
  );
  $("cards").dataset.published = t.published;
  $("cards").dataset.delivered = t.delivered;
  renderChart(stats.history);
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function niceMax(value) {
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function renderChart(history) {
  const chart = $("chart");
  const width = 1000, height = 160, now = Date.now();
  // The chart spans the history there is (at least a minute), up to five minutes.
  const span = Math.min(CHART_MAX_MS, Math.max(CHART_MIN_MS, history.length ? now - history[0].t : 0));
  const peak = Math.max(0, ...history.map(p => Math.max(p.publish, p.delivery)));
  const top = niceMax(peak);
  const x = t => ((t - (now - span)) / span) * width;
  const y = v => height - 4 - (v / top) * (height - 12);
  const nodes = [];
  for (const fraction of [0.25, 0.5, 0.75, 1]) {
    const gy = y(top * fraction);
    nodes.push(svg("line", { x1: 0, x2: width, y1: gy, y2: gy, stroke: "#eef1f5", "stroke-width": 1, "vector-effect": "non-scaling-stroke" }));
  }
  const points = key => history.map(p => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
  if (history.length > 1) {
    const first = x(history[0].t).toFixed(1), last = x(history[history.length - 1].t).toFixed(1);
    nodes.push(svg("polygon", { points: `${first},${height} ${points("publish")} ${last},${height}`, fill: "rgba(37,99,235,.08)" }));
    for (const [key, colour] of [["publish", "#2563eb"], ["delivery", "#059669"]]) {
      nodes.push(svg("polyline", {
        points: points(key), fill: "none", stroke: colour, "stroke-width": 2,
        "stroke-linejoin": "round", "vector-effect": "non-scaling-stroke",
      }));
    }
  }
  chart.replaceChildren(...nodes);
  const minutes = Math.round(span / 60000);
  $("chart-range").textContent =
    `last ${minutes === 1 ? "minute" : `${minutes} minutes`} · scale 0–${formatNumber(top)} / s`;
}

// ------------------------------------------------------------------ sessions

/** A table row per session, made once and then only updated where a value changed:
    the table is refreshed every two seconds, and may have thousands of rows. */
function sessionRow(name) {
  const cells = Array.from({ length: 9 }, (_, i) => el("td", { class: i >= 2 && i <= 6 ? "num" : "" }));
  cells[0].className = "name";
  cells[0].title = name;
  const badge = el("span", { class: "badge" });
  cells[1].append(badge);
  const toggle = el("button", { onclick: () => act(toggle.dataset.action, name) });
  const actions = el("td", { class: "actions" },
    el("button", { onclick: () => showLogsOf(name) }, "Logs"),
    toggle,
    el("button", { class: "danger", onclick: () => confirmDrop(name) }, "Drop"));
  const tr = el("tr", { dataset: { session: name } }, ...cells, actions);
  return { tr, cells, badge, toggle, shown: [] };
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderSessions(all) {
  state.lastSessions = all;
  all.sort((a, b) => (a.sessionName < b.sessionName ? -1 : a.sessionName > b.sessionName ? 1 : 0));
  const matching = state.filter ? all.filter(s => s.sessionName.toLowerCase().includes(state.filter)) : all;
  const sessions = matching.slice(0, MAX_SESSION_ROWS);
  const rows = new Map();
  for (const s of sessions) {
    const row = state.rows.get(s.sessionName) || sessionRow(s.sessionName);
    rows.set(s.sessionName, row);
    const values = [
      s.sessionName, s.state, formatNumber(s.connections), formatNumber(s.subscriptions),
      formatNumber(s.pendingMessages), formatRate(s.publishRate), formatRate(s.deliveryRate),
      formatDate(s.createdAt), s.expiresAt ? formatDate(s.expiresAt) : "never",
    ];
    values.forEach((value, i) => {
      if (row.shown[i] !== value) setText(i === 1 ? row.badge : row.cells[i], value);
    });
    row.shown = values;
    row.badge.className = `badge ${s.state}`;
    const action = s.state === "suspended" ? "resume" : "suspend";
    if (row.toggle.dataset.action !== action) {
      row.toggle.dataset.action = action;
      row.toggle.textContent = action === "resume" ? "Resume" : "Suspend";
    }
    row.tr.classList.toggle("selected", s.sessionName === state.logSource);
  }
  const body = document.querySelector("#sessions tbody");
  const names = sessions.map(s => s.sessionName);
  if (names.join("\n") !== state.sessionNames.join("\n")) {  // rows came or went: lay them out again
    const trs = sessions.map(s => rows.get(s.sessionName).tr);
    const empty = all.length ? "No session matches the filter." : "No sessions yet.";
    if (!trs.length) trs.push(el("tr", {}, el("td", { colSpan: 10, class: "empty" }, empty)));
    body.replaceChildren(...trs);
    state.sessionNames = names;
    renderLogSources(names);
  }
  state.rows = rows;
  setText($("session-count"), sessions.length < all.length
    ? `showing ${formatNumber(sessions.length)} of ${formatNumber(all.length)}`
    : formatNumber(all.length));
}

async function act(action, name) {
  const path = action === "resume" ? "/api/resumeSession" : action === "drop" ? "/api/dropSession" : "/api/suspendSession";
  const body = action === "suspend" ? { sessionName: name, suspend: true } : { sessionName: name };
  try {
    await api("POST", path, body);
  } catch (e) {
    if (e.status !== 401) alertError(`Could not ${action} ${name}: ${e.message}`);
  }
  refresh();
}

function alertError(message) {
  $("status").textContent = message;
}

function confirmDrop(name) {
  $("confirm-title").textContent = "Drop session";
  $("confirm-text").textContent =
    `Drop "${name}"? Its connections are closed, and its messages and settings are deleted. This cannot be undone.`;
  $("confirm-ok").textContent = "Drop session";
  $("confirm-ok").onclick = () => { $("confirm-dialog").close(); act("drop", name); };
  $("confirm-dialog").showModal();
}

function numberOrUndefined(id) {
  const value = $(id).value.trim();
  return value === "" ? undefined : Number(value);
}

async function createSession(event) {
  event.preventDefault();
  const name = $("create-name").value;
  const body = {
    sessionName: name,
    password: $("create-password").value,
    retryInterval: numberOrUndefined("create-retry"),
    maxRetryLimit: numberOrUndefined("create-max-retries"),
    messageExpiryTime: numberOrUndefined("create-expiry"),
    sessionExpiry: numberOrUndefined("create-session-expiry"),
  };
  $("create-submit").disabled = true;
  try {
    const created = await api("POST", "/api/createSession", body);
    $("create-dialog").close();
    $("create-form").reset();
    $("secret-name").textContent = created.sessionName;
    $("secret-key").textContent = created.secretKey;
    $("secret-dialog").showModal();
    refresh();
  } catch (e) {
    $("create-error").hidden = false;
    $("create-error").textContent = e.message;
  } finally {
    $("create-submit").disabled = false;
  }
}

// ------------------------------------------------------------------ logs

function renderLogSources(names) {
  const select = $("log-source");
  const options = [el("option", { value: "" }, "Server")];
  for (const name of names) options.push(el("option", { value: name }, `Session: ${name}`));
  if (state.logSource && !names.includes(state.logSource)) {
    options.push(el("option", { value: state.logSource }, `Session: ${state.logSource} (gone)`));
  }
  select.replaceChildren(...options);
  select.value = state.logSource;
}

function showLogsOf(name) {
  state.logSource = name;
  $("log-source").value = name;
  resetLogs();
  refresh();
  $("logs").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

function resetLogs() {
  state.logSeq = 0;
  $("logs").replaceChildren();
}

async function pollLogs() {
  const source = state.logSource;
  const query = new URLSearchParams({ after: String(state.logSeq) });
  if (state.logSource) query.set("session", state.logSource);
  const data = await api("GET", `/api/admin/logs?${query}`);
  if (source !== state.logSource) return;  // the view was switched meanwhile
  const box = $("logs");
  for (const line of data.lines) {
    state.logSeq = Math.max(state.logSeq, line.seq);
    box.append(el("div", { class: line.level },
      el("span", { class: "time" }, formatTime(line.timestamp)),
      el("span", { class: "level" }, line.level),
      !state.logSource && line.session ? el("span", { class: "who" }, `[${line.session}]`) : null,
      line.message,
      line.peer ? el("span", { class: "peer" }, line.peer) : null));
  }
  while (box.childElementCount > MAX_LOG_ROWS) box.firstElementChild.remove();
  if (data.lines.length && $("log-follow").checked) box.scrollTop = box.scrollHeight;
}

// ------------------------------------------------------------------ wiring

document.addEventListener("DOMContentLoaded", () => {
  $("tab-password").addEventListener("click", () => selectTab(true));
  $("tab-token").addEventListener("click", () => selectTab(false));
  $("login-password").addEventListener("submit", loginWithPassword);
  $("login-token").addEventListener("submit", loginWithToken);
  $("logout").addEventListener("click", () => signOut());
  $("new-session").addEventListener("click", () => {
    $("create-error").hidden = true;
    $("create-dialog").showModal();
  });
  $("create-cancel").addEventListener("click", () => $("create-dialog").close());
  $("create-form").addEventListener("submit", createSession);
  $("secret-close").addEventListener("click", () => $("secret-dialog").close());
  // Shown once: gone from the page when the dialog closes, however it is closed.
  $("secret-dialog").addEventListener("close", () => { $("secret-key").textContent = ""; });
  $("secret-copy").addEventListener("click", () => navigator.clipboard.writeText($("secret-key").textContent));
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("log-source").addEventListener("change", event => showLogsOf(event.target.value));
  $("session-filter").addEventListener("input", event => {
    state.filter = event.target.value.trim().toLowerCase();
    renderSessions(state.lastSessions);
  });
  if (state.authorization) signIn(state.authorization);
  else showLogin();
});
