// baton web's page. Agent output and every field of a session are hostile
// text: they are only ever set with textContent, never parsed as HTML.
"use strict";

const csrf = document.querySelector('meta[name="baton-csrf"]').content;
const sessions = new Map();
let selected = null;
let seq = 0;
let refreshing = null;
const recent = [];
// How many records before the page opened it reads for the detail view.
const HISTORY = 500;

// What needs a person first, as in `baton tui`.
function rank(state) {
  if (state === "input_wait") return 0;
  if (state === "failed" || state === "dead") return 1;
  return 2;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function age(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

function usage(row) {
  const u = row.usage;
  if (!u) return "";
  const tokens = (u.input_tokens || 0) + (u.output_tokens || 0);
  const cost = u.cost_usd !== undefined && u.cost_usd !== null ? " · $" + Number(u.cost_usd).toFixed(2) : "";
  return tokens + cost;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function refresh() {
  refreshing = null;
  try {
    const table = await api("/api/sessions");
    sessions.clear();
    for (const row of table.sessions) sessions.set(row.id, row);
    render();
  } catch (e) {
    document.getElementById("live").textContent = "error: " + e.message;
  }
}

function soon() {
  if (!refreshing) refreshing = setTimeout(refresh, 150);
}

// A state change is drawn from its record at once, without asking the
// daemon for the whole table again; at most one redraw per frame.
let drawing = false;
function redraw() {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => { drawing = false; render(); });
}

function apply(record) {
  const row = sessions.get(record.session);
  if (!row) {
    soon(); // a session this page has not seen: the table has its row
    return;
  }
  if (record.event === "state") {
    row.state = record.to;
    row.reason = record.reason;
    row.restarts = record.restarts;
    row.evidence = record.evidence === undefined ? null : record.evidence;
    if (record.to !== "input_wait") row.wait_kind = null;
    redraw();
  } else if (record.event === "input_wait") {
    row.evidence = record.line;
    row.wait_kind = record.kind || null;
    redraw();
  }
}

// The table's rows, by session id.
const rowsShown = new Map();

function rowOf(row) {
  let tr = rowsShown.get(row.id);
  if (!tr) {
    tr = el("tr");
    tr.dataset.id = row.id;
    tr.append(el("td"), el("td"), el("td", null, "hide-narrow"), el("td", null, "hide-narrow"),
      el("td", null, "hide-narrow"), el("td", null, "hide-narrow"));
    tr.addEventListener("click", () => select(row.id));
    rowsShown.set(row.id, tr);
  }
  // Only what changed is written: a redraw of 1,000 rows touches the few
  // a record changed.
  const shown = [row.evidence, row.state, row.wait_kind, row.agent, age(row.age_ms), row.restarts,
    usage(row), row.id === selected].join("\u0000");
  if (tr.batonShown === shown) return tr;
  tr.batonShown = shown;
  const [who, state, agent, since, restarts, used] = tr.children;
  who.replaceChildren(el("div", row.id));
  if (row.evidence) who.append(el("div", row.evidence, "evidence"));
  state.textContent = row.state + (row.state === "input_wait" && row.wait_kind ? " · " + row.wait_kind : "");
  state.className = "state s-" + row.state;
  agent.textContent = row.agent;
  since.textContent = age(row.age_ms);
  restarts.textContent = row.restarts;
  used.textContent = usage(row);
  tr.className = row.id === selected ? "selected" : "";
  return tr;
}

function render() {
  const rows = [...sessions.values()].sort(
    (a, b) => rank(a.state) - rank(b.state) || a.id.localeCompare(b.id));
  const counts = new Map();
  for (const row of rows) counts.set(row.state, (counts.get(row.state) || 0) + 1);
  const countsBox = document.getElementById("counts");
  countsBox.replaceChildren(...[...counts].map(([state, n]) => el("span", n + " " + state, "state s-" + state)));
  // Rows are kept and updated in place, in order: a row being clicked
  // or read stays the same element across updates.
  const body = document.getElementById("rows");
  for (const [id, tr] of rowsShown) {
    if (!sessions.has(id)) {
      tr.remove();
      rowsShown.delete(id);
    }
  }
  rows.forEach((row, i) => {
    const tr = rowOf(row);
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
  });
  document.getElementById("empty").hidden = rows.length > 0;
  if (selected) showFacts();
}

function showFacts() {
  const row = sessions.get(selected);
  if (!row) return;
  document.getElementById("d-id").textContent = row.id;
  const facts = [
    ["state", row.state + " (" + row.reason + ")"],
    ["evidence", row.evidence],
    ["agent", row.agent + " on " + row.host + " (" + row.backend + ")"],
    ["age", age(row.age_ms)],
    ["restarts", row.restarts],
    ["tokens · cost", usage(row)],
    ["last line", row.last_line],
    ["message", row.message],
    ["payload", row.payload === undefined || row.payload === null ? null : JSON.stringify(row.payload)],
  ];
  const list = document.getElementById("facts");
  list.replaceChildren();
  for (const [name, value] of facts) {
    if (value === undefined || value === null || value === "") continue;
    list.append(el("dt", name), el("dd", value));
  }
}

async function showOutput() {
  if (!selected) return;
  const id = selected;
  try {
    // The end of its output as a terminal shows it (escapes applied).
    const screen = await api("/api/sessions/" + encodeURIComponent(id) + "/screen?rows=40&cols=120");
    if (id !== selected) return;
    document.getElementById("output").textContent = screen.text.replace(/\s+$/, "");
  } catch (e) {
    document.getElementById("output").textContent = "cannot read the output: " + e.message;
  }
}

function showEvents() {
  const list = document.getElementById("events");
  const mine = recent.filter((r) => r.session === selected).slice(-30).reverse();
  list.replaceChildren(...mine.map((r) => el("li", "#" + r.seq + " " + r.event + describe(r))));
}

function describe(r) {
  if (r.event === "state") return ": " + r.from + " → " + r.to + " (" + r.reason + ")" + (r.evidence ? " — " + r.evidence : "");
  if (r.event === "input_wait") return ": " + (r.kind || r.rule) + " — " + r.line;
  if (r.event === "exit") return ": code " + r.code + (r.signal ? " signal " + r.signal : "");
  return "";
}

function select(id) {
  selected = id;
  document.getElementById("detail").hidden = false;
  document.getElementById("receipt").textContent = "";
  render();
  showOutput();
  showEvents();
}

async function change(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Baton-Csrf": csrf },
    body: JSON.stringify(body || {}),
  });
}

document.getElementById("answer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("answer-text");
  const receipt = document.getElementById("receipt");
  if (!selected || !input.value) return;
  receipt.textContent = "sending…";
  try {
    const r = await change("/api/sessions/" + encodeURIComponent(selected) + "/send", { text: input.value, if_waiting: true });
    receipt.textContent = "delivered: input record #" + r.seq + (r.resumed ? ", it resumed" : ", no output after it yet") + "; now " + r.state;
    input.value = "";
  } catch (e) {
    receipt.textContent = "not sent: " + e.message;
  }
});

document.getElementById("kill").addEventListener("click", async () => {
  if (!selected || !confirm("Kill " + selected + "?")) return;
  try {
    const row = await change("/api/sessions/" + encodeURIComponent(selected) + "/kill");
    document.getElementById("receipt").textContent = "killed: now " + row.state + " (" + row.reason + ")";
  } catch (e) {
    document.getElementById("receipt").textContent = "kill failed: " + e.message;
  }
});

document.getElementById("copy-attach").addEventListener("click", async () => {
  if (!selected) return;
  const command = "baton attach " + selected;
  try {
    await navigator.clipboard.writeText(command);
    document.getElementById("receipt").textContent = "copied: " + command;
  } catch (e) {
    document.getElementById("receipt").textContent = command;
  }
});

const notifyButton = document.getElementById("notify");
if ("Notification" in window && Notification.permission === "default") {
  notifyButton.hidden = false;
  notifyButton.addEventListener("click", async () => {
    await Notification.requestPermission();
    notifyButton.hidden = true;
  });
}

function notify(record) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (record.event !== "state") return;
  if (record.to !== "input_wait" && record.to !== "dead") return;
  const title = record.session + (record.to === "input_wait" ? " waits for you" : " is dead");
  new Notification(title, { body: record.evidence || record.reason, tag: "baton-" + record.session });
}

function listen() {
  const stream = new EventSource("/api/events?since=" + seq);
  const live = document.getElementById("live");
  stream.addEventListener("open", () => { live.textContent = "live"; });
  stream.addEventListener("record", (message) => {
    const record = JSON.parse(message.data);
    seq = Math.max(seq, record.seq);
    recent.push(record);
    if (recent.length > 2000) recent.splice(0, recent.length - 2000);
    if (record.session) apply(record);
    notify(record);
    if (record.session === selected) {
      showEvents();
      showOutput();
    }
  });
  stream.addEventListener("skipped", (message) => {
    const skipped = JSON.parse(message.data);
    live.textContent = "live (" + skipped.count + " records skipped)";
    soon();
  });
  stream.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    stream.close();
    setTimeout(() => refresh().then(listen), 1000);
  });
}

(async function start() {
  try {
    const table = await api("/api/sessions");
    // The latest records too, for the events of a session selected now.
    seq = Math.max(0, table.seq - HISTORY);
    for (const row of table.sessions) sessions.set(row.id, row);
    render();
  } catch (e) {
    document.getElementById("live").textContent = "error: " + e.message;
  }
  listen();
  // What records do not carry (output size, usage, age): now and then.
  setInterval(refresh, 10000);
})();
