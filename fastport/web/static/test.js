/* The pub/sub playground: a browser client of the legacy JSON protocol over WebSocket,
   encrypting and decrypting in the page (legacy-crypto.js). The server only ever sees
   ciphertext when a key is given. */
"use strict";

const MAX_EVENTS = 500;

const play = { ws: null, key: null, topics: new Set() };

function event(kind, cls, ...parts) {
  const box = $("events");
  box.prepend(el("div", { class: cls, dataset: { kind } },
    el("span", { class: "time" }, formatTime(Date.now())),
    el("span", { class: "kind" }, kind),
    el("span", {}, ...parts)));
  while (box.childElementCount > MAX_EVENTS) box.lastElementChild.remove();
}

function setConnected(connected, status) {
  $("connect").disabled = connected;
  $("disconnect").disabled = !connected;
  $("status").textContent = status;
  for (const id of ["subscribe", "publish"]) $(id).disabled = !connected;
}

function send(frame) {
  if (!play.ws || play.ws.readyState !== WebSocket.OPEN) {
    event("error", "err", "not connected");
    return false;
  }
  play.ws.send(JSON.stringify(frame));
  return true;
}

async function connect(ev) {
  ev.preventDefault();
  const error = $("connect-error");
  error.hidden = true;
  try {
    play.key = $("key").value.trim() ? await legacyCrypto.importKey($("key").value) : null;
  } catch (e) {
    error.hidden = false;
    error.textContent = e.message;
    return;
  }
  const session = $("session").value, password = $("password").value;
  const ws = new WebSocket($("url").value);
  play.ws = ws;
  play.topics.clear();
  renderTopics();
  setConnected(true, "Connecting…");
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "init", sessionName: session, password })));
  ws.addEventListener("message", e => receive(e.data));
  ws.addEventListener("close", e => {
    if (play.ws !== ws) return;
    play.ws = null;
    setConnected(false, "Disconnected");
    event("closed", "err", `code ${e.code}${e.reason ? ": " + e.reason : ""}`);
  });
}

function disconnect() {
  if (play.ws) play.ws.close(1000);
}

async function receive(text) {
  let frame;
  try { frame = JSON.parse(text); } catch (e) { event("frame", "err", String(text)); return; }
  switch (frame.type) {
    case "init_response":
      if (frame.success) {
        setConnected(true, `Connected to ${frame.sessionName}`);
        event("init", "in", `joined session ${frame.sessionName}`);
      } else {
        event("init", "err", frame.error);
        setConnected(true, "Not signed in");
      }
      break;
    case "subscribe_response":
      if (frame.success) { play.topics.add(frame.topic); renderTopics(); }
      event("subscribe", frame.success ? "in" : "err", frame.topic, frame.error ? ` — ${frame.error}` : "");
      break;
    case "unsubscribe_response":
      play.topics.delete(frame.topic);
      renderTopics();
      event("unsubscribe", "in", frame.topic);
      break;
    case "publish_response":
      if (frame.success) event("published", "out", `${frame.messageId} → ${frame.deliveredTo} subscriber(s)`);
      else event("refused", "err", `${frame.messageId || ""} ${frame.error}`);
      break;
    case "ack_received":
      event("acked", "out", `${frame.messageId} on ${frame.topic}`, frame.remaining !== undefined ? ` (${frame.remaining} left)` : "");
      break;
    case "message":
      await message(frame);
      break;
    case "log":
      event("log", "log", frame.data);
      break;
    default:
      event(frame.type || "error", "err", frame.error || text);
  }
}

async function message(frame) {
  let text;
  if (play.key) {
    try {
      text = await legacyCrypto.decrypt(play.key, frame.data, frame.hash);
    } catch (e) {
      event("undecryptable", "err", `${frame.topic} ${frame.messageId}: ${e.message} (not ACKed)`);
      return;
    }
  } else {
    text = typeof frame.data === "string" ? frame.data : JSON.stringify(frame.data);
  }
  const retry = frame.retry ? ` (re-send ${frame.retry})` : "";
  event("message", "in", `${frame.topic}: `, el("strong", {}, text), retry);
  if ($("auto-ack").checked) send({ type: "ack", topic: frame.topic, messageId: frame.messageId });
}

function renderTopics() {
  $("subscriptions").replaceChildren(...[...play.topics].map(topic =>
    el("span", { class: "chip" }, topic,
      el("button", { type: "button", title: "Unsubscribe", onclick: () => send({ type: "unsubscribe", topic }) }, "×"))));
}

async function publish(ev) {
  ev.preventDefault();
  const topic = $("publish-topic").value, plaintext = $("publish-data").value;
  const frame = { type: "publish", topic, timestamp: Date.now(), messageId: crypto.randomUUID() };
  if ($("encrypt").checked) {
    if (!play.key) { event("error", "err", "no key to encrypt with"); return; }
    Object.assign(frame, await legacyCrypto.encrypt(play.key, plaintext));
  } else {
    frame.data = plaintext;
  }
  if (send(frame)) event("publish", "out", `${topic}: `, el("strong", {}, plaintext));
}

document.addEventListener("DOMContentLoaded", () => {
  $("url").value = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
  setConnected(false, "Disconnected");
  $("connect-form").addEventListener("submit", connect);
  $("disconnect").addEventListener("click", disconnect);
  $("generate-key").addEventListener("click", () => { $("key").value = legacyCrypto.generateKey(); });
  $("subscribe-form").addEventListener("submit", ev => {
    ev.preventDefault();
    send({ type: "subscribe", topic: $("subscribe-topic").value });
  });
  $("publish-form").addEventListener("submit", publish);
  $("clear").addEventListener("click", () => $("events").replaceChildren());
});
