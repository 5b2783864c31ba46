// labelgraph's web console: one page on the run's controller. Everything it changes is sent as
// the terminal console's own lines (slash commands, plain language, answers), so the ledger
// records it the same way. No library, nothing fetched from elsewhere.
"use strict";
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const kid of kids) node.append(kid);
  return node;
};
// what a test (or a curious person) can read: ms from an answer key to the next card, and
// from a round's end (the ledger's time) to the page showing it
window.lgTimings = { answer: [], round: [] };
let state = null, answering = null, lastRoundEnded = null, sort = { key: "round", desc: true };

async function act(body) {
  const response = await fetch("/api/act?token=" + encodeURIComponent(TOKEN), {
    method: "POST", headers: { "Content-Type": "application/json", "X-Token": TOKEN },
    body: JSON.stringify(body) });
  if (!response.ok) { line("error: " + response.status + " " + await response.text()); return null; }
  const out = await response.json();
  render(out.state);
  return out.reply;
}
const say = (text) => act({ say: text });

function line(text, cls) {
  const log = $("log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  for (const part of String(text).split("\n")) log.append(el("div", { class: cls || "", text: part }));
  while (log.childNodes.length > 400) log.removeChild(log.firstChild);
  if (stick) log.scrollTop = log.scrollHeight;
}

function render(s) {
  if (!s) return;
  const roundChanged = !state || state.round !== s.round || state.spent.labels !== s.spent.labels;
  state = s;
  $("run").textContent = s.run + (s.read_only ? " (watching: another process drives it)" : "");
  const badge = $("status");
  badge.textContent = s.status;
  badge.className = "badge " + s.status.split(" ")[0];
  $("statusline").textContent = s.status_line.replace(/^\[[^\]]*\] · /, "");
  renderSettings(s.settings);
  renderQuestion(s.question);
  $("confirm").hidden = !s.confirming.length;
  $("confirmtext").textContent = s.confirming.join("; ") + ". go ahead?";
  renderCurve(s.curve);
  renderDecisions(s.decisions);
  if (s.round_ended && lastRoundEnded !== null && s.round_ended > lastRoundEnded)
    window.lgTimings.round.push(Date.now() - s.round_ended * 1000);
  if (s.round_ended) lastRoundEnded = s.round_ended;
  if (roundChanged) loadTable();
}

function renderSettings(settings) {
  const select = $("strategy");
  if (select.options.length !== settings.strategies.length)
    select.replaceChildren(...settings.strategies.map((n) => el("option", { value: n, text: n })));
  if (document.activeElement !== select) select.value = settings.strategy;
  if (document.activeElement !== $("batch")) $("batch").value = settings.batch_size;
  $("synth").checked = settings.synthesize;
}

function renderQuestion(q) {
  const box = $("question");
  if (answering && (!q || q.id !== answering.id)) {
    window.lgTimings.answer.push(performance.now() - answering.t0);
    answering = null;
  }
  if (!q) { box.replaceChildren(el("p", { class: "muted", text: "no question is waiting" })); return; }
  if (box.dataset.id === q.id && box.dataset.at === String(q.at)) return;
  box.dataset.id = q.id; box.dataset.at = String(q.at);
  const answers = el("div", { class: "answers" });
  q.labels.forEach((label, n) => answers.append(el("button", {
    class: label === q.suggestion ? "suggested" : "", "data-label": label,
    onclick: () => answer(String(n + 1)) }, el("kbd", { text: String(n + 1) }), " " + label)));
  answers.append(el("button", { onclick: () => answer("skip") }, el("kbd", { text: "s" }), " skip"));
  answers.append(el("button", { onclick: undo }, el("kbd", { text: "u" }), " undo"));
  const hint = q.suggestion ? `LLM suggests ${q.suggestion}` +
    (q.confidence != null ? ` (confidence ${q.confidence.toFixed(2)})` : "") : "no suggestion";
  const near = el("ul");
  for (const n of q.neighbours) near.append(el("li", { text: `${n.label} · ${n.similarity.toFixed(2)} · ${n.text}` }));
  box.replaceChildren(
    el("div", { class: "muted", text: `question ${q.at + 1} of ${q.total} · ${hint}` }),
    el("div", { class: "text", id: "qtext", text: q.text }), answers,
    el("div", { class: "near" }, el("div", { text: "nearest labeled examples" }), near));
}

function answer(text) {
  if (!state || !state.question) return;
  answering = { id: state.question.id, t0: performance.now() };
  act({ answer: text });
}
function undo() { act({ undo: true }); }

function renderCurve(curve) {
  const svg = $("curve");
  const pts = curve.filter((p) => p.accuracy != null);
  const W = 420, H = 180, L = 36, B = 22, T = 8, R = 8;
  const ns = "http://www.w3.org/2000/svg";
  const node = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text != null) n.textContent = text;
    return n;
  };
  svg.replaceChildren(node("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
                      node("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  if (!pts.length) { svg.append(node("text", { x: L + 8, y: H / 2 }, "no held-out accuracy yet")); return; }
  const xs = pts.map((p) => p.labels ?? p.round), ys = pts.map((p) => p.accuracy);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.max(0, Math.min(...ys) - 0.05), y1 = Math.min(1, Math.max(...ys) + 0.05);
  const X = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
  const Y = (v) => H - B - (v - y0) / Math.max(y1 - y0, 1e-6) * (H - B - T);
  svg.append(node("polyline", { class: "line", points: pts.map((p, i) => `${X(xs[i])},${Y(ys[i])}`).join(" ") }));
  pts.forEach((p, i) => svg.append(node("circle", { cx: X(xs[i]), cy: Y(ys[i]), r: 2.5, fill: "#2f6fde" })));
  svg.append(node("text", { x: 2, y: Y(y1) + 8 }, y1.toFixed(2)), node("text", { x: 2, y: Y(y0) }, y0.toFixed(2)),
             node("text", { x: L, y: H - 6 }, String(x0)), node("text", { x: W - R - 40, y: H - 6 }, `${x1} labels`));
  svg.setAttribute("data-points", String(pts.length));
}

function renderDecisions(decisions) {
  const list = $("decisions");
  list.replaceChildren(...decisions.map((d) => {
    const how = d.action === "query" && d.strategy ? `query ${d.strategy}` : d.action;
    const props = Object.entries(d.proposals).map(([a, p]) => `${a}: ${p.action} (${p.reason})`);
    return el("li", { value: String(d.round) },
      el("span", { class: "act", text: `round ${d.round} · ${how}` }),
      el("div", { text: d.reason }),
      d.followed.length ? el("div", { class: "props", text: "followed: " + d.followed.join(", ") }) : "",
      props.length ? el("div", { class: "props", text: "proposals: " + props.join("; ") }) : "");
  }));
}

async function loadTable() {
  const q = new URLSearchParams({ token: TOKEN, q: $("search").value, sort: sort.key,
                                  order: sort.desc ? "desc" : "asc", suspects: $("suspects").checked ? "1" : "0" });
  const response = await fetch("/api/labels?" + q, { headers: { "X-Token": TOKEN } });
  if (!response.ok) return;
  const table = await response.json();
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === sort.key);
    th.classList.toggle("asc", th.dataset.sort === sort.key && !sort.desc);
  }
  $("tablecount").textContent = `${table.total} labeled` + (table.audit_round != null
    ? ` · ${table.suspects} suspects in the audit of round ${table.audit_round}` : " · no audit yet");
  $("rows").replaceChildren(...table.rows.map((r) => {
    const pick = el("select", { "aria-label": "label of " + r.id, onchange: (e) =>
      say(`/correct ${r.id} ${JSON.stringify(e.target.value)}`) });
    for (const label of state ? state.labels : [r.label])
      pick.append(el("option", { value: label, text: label }));
    pick.value = r.label;
    const reject = el("button", { title: "reject this label (kept out of training)",
                                  onclick: () => say(`/reject ${r.id}`) }, "reject");
    return el("tr", { "data-id": r.id, class: (r.suspect ? "suspect " : "") + (r.status === "rejected" ? "rejected" : "") },
      el("td", { class: "text", text: r.text, title: r.suspect || "" }), el("td", {}, pick),
      el("td", { text: r.source }), el("td", { text: r.confidence == null ? "" : r.confidence.toFixed(2) }),
      el("td", { text: r.verdict || "" }), el("td", { text: r.round ?? "" }), el("td", {}, reject));
  }));
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  const q = state && state.question;
  if (e.key === "u") { undo(); e.preventDefault(); return; }
  if (!q) return;
  if (e.key === "s") { answer("skip"); e.preventDefault(); }
  else if (/^[1-9]$/.test(e.key) && Number(e.key) <= q.labels.length) { answer(e.key); e.preventDefault(); }
});
$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("line").value.trim();
  $("line").value = "";
  line("> " + text, "you");
  say(text);
});
$("yes").addEventListener("click", () => { line("> yes", "you"); say("yes"); });
$("no").addEventListener("click", () => { line("> no", "you"); say("no"); });
for (const button of document.querySelectorAll("#controls button[data-cmd]"))
  button.addEventListener("click", () => {
    if (button.id === "stop" && !confirm("Stop the run? (it can go on later with a reason)")) return;
    line("> " + button.dataset.cmd, "you");
    say(button.dataset.cmd);
  });
$("strategy").addEventListener("change", (e) => say("/strategy " + e.target.value));
$("batch").addEventListener("change", (e) => say("/batch " + e.target.value));
$("addbudget").addEventListener("click", () => { if ($("budget").value) say("/budget +" + $("budget").value); });
$("synth").addEventListener("change", (e) => say("/synth " + (e.target.checked ? "on" : "off")));
$("search").addEventListener("input", () => loadTable());
$("suspects").addEventListener("change", () => loadTable());
$("refresh").addEventListener("click", () => loadTable());
for (const th of document.querySelectorAll("th[data-sort]"))
  th.addEventListener("click", () => {
    sort = { key: th.dataset.sort, desc: sort.key === th.dataset.sort ? !sort.desc : false };
    loadTable();
  });

const events = new EventSource("/events?token=" + encodeURIComponent(TOKEN));
events.addEventListener("state", (e) => render(JSON.parse(e.data)));
events.addEventListener("line", (e) => line(JSON.parse(e.data)));
events.addEventListener("lines", (e) => { $("log").replaceChildren(); JSON.parse(e.data).forEach((t) => line(t)); });
events.onerror = () => { $("status").textContent = "disconnected (retrying)"; $("status").className = "badge"; };
