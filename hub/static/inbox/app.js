// Helpline inbox: one page over the /api/v1 JSON API and its live WebSocket.
// Customer text is only ever set with textContent; the one HTML view (a sanitised
// email body) goes into a sandboxed iframe with scripts off.

const $ = (selector, root = document) => root.querySelector(selector);
const ICONS = { webchat: "💬", email: "✉️", telegram: "✈️", slack: "#", webhook: "🔗" };
const VIEWS = [
  ["open", "Open", { status: "open" }], ["mine", "Mine", { status: "open", assignee: "me" }],
  ["unassigned", "Unassigned", { status: "open", assignee: "unassigned" }], ["pending", "Pending", { status: "pending" }],
  ["snoozed", "Snoozed", { status: "snoozed" }], ["resolved", "Resolved", { status: "resolved" }],
  ["closed", "Closed", { status: "closed" }], ["all", "All", {}],
];
const state = { me: null, csrf: "", view: "open", page: 1, perPage: 25, current: null, agents: [], canned: [], mode: "reply" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: { "X-CSRF-Token": state.csrf } };
  if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const resp = await fetch(`/api/v1${path}`, options);
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && path !== "/auth/login") { showLogin(); throw new Error(data.message || "signed out"); }
  if (!resp.ok) { const error = new Error(data.message || resp.statusText); error.code = data.error; throw error; }
  return data;
}
// Merging or moving between two customers: the hub says who will see what; ask before doing it.
async function withConfirmation(method, path, body) {
  try { return await api(method, path, body); } catch (e) {
    if (e.code !== "confirm_needed") throw e;
    if (!confirm(e.message)) return null;
    return api(method, path, { ...body, confirm: true });
  }
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString();
}

// -- signing in -----------------------------------------------------------------------------
function showLogin() { $("#app").hidden = true; $("#login").hidden = false; }
async function start() {
  try {
    const me = await fetch("/api/v1/me");
    if (!me.ok) return showLogin();
    const data = await me.json();
    signedIn(data.agent, data.csrf_token);
  } catch (e) { showLogin(); }
}
function signedIn(agent, csrf) {
  state.me = agent; state.csrf = csrf;
  $("#login").hidden = true; $("#app").hidden = false;
  $("#me-name").textContent = agent.name || agent.email;
  $("#open-admin").hidden = agent.role !== "admin";
  loadAgents(); loadCanned(); refreshList(); connectLive();
}
$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const data = await api("POST", "/auth/login", { email: form.get("email"), password: form.get("password") });
    $("#login-error").textContent = "";
    signedIn(data.agent, data.csrf_token);
  } catch (e) { $("#login-error").textContent = e.message; }
});
$("#logout").addEventListener("click", async () => { await api("POST", "/auth/logout"); location.reload(); });

async function loadAgents() { state.agents = (await api("GET", "/agents")).items; }
async function loadCanned() { state.canned = (await api("GET", "/canned")).items; }

// -- the list ---------------------------------------------------------------------------------
function filters() {
  const [, , view] = VIEWS.find(([key]) => key === state.view);
  const params = new URLSearchParams({ ...view, page: state.page, per_page: state.perPage });
  for (const [id, name] of [["search", "q"], ["filter-channel", "channel"], ["filter-priority", "priority"], ["filter-team", "team"], ["filter-category", "category"], ["filter-tag", "tag"]]) {
    const value = $(`#${id}`).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}
async function refreshList() {
  const [data, counts] = await Promise.all([api("GET", `/conversations?${filters()}`), api("GET", "/conversations/counts")]);
  const views = $("#view-list");
  views.replaceChildren(...VIEWS.map(([key, label]) => el("li", {}, el("button", {
    class: key === state.view ? "active" : "", "data-view": key,
    onclick: () => { state.view = key; state.page = 1; refreshList(); },
  }, el("span", { text: label }), el("span", { class: "count", text: String(counts[key] ?? "") })))));
  $("#conversations").replaceChildren(...data.items.map((c) => el("li", {
    class: `${c.unread ? "unread" : ""} ${state.current === c.id ? "active" : ""}`, "data-id": c.id, onclick: () => openConversation(c.id),
  },
    el("div", { class: "top" }, el("span", { text: ICONS[c.channel] || "•", title: c.channel }), el("span", { class: "who", text: c.contact_name || `#${c.number}` }), el("small", { text: when(c.last_message_at) })),
    el("div", { class: "subject", text: `#${c.number} ${c.subject}` }),
    el("div", { class: "top" }, el("span", { class: "badge", text: c.status }), c.priority !== "normal" ? el("span", { class: `badge ${c.priority}`, text: c.priority }) : null, ...c.tags.map((t) => el("span", { class: "badge", text: t }))),
  )));
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  $("#page-info").textContent = `${state.page} / ${pages} · ${data.total}${data.total_is_lower_bound ? "+" : ""}`;
  $("#prev").disabled = state.page <= 1; $("#next").disabled = state.page >= pages;
}
$("#prev").addEventListener("click", () => { state.page -= 1; refreshList(); });
$("#next").addEventListener("click", () => { state.page += 1; refreshList(); });
for (const id of ["search", "filter-channel", "filter-priority", "filter-team", "filter-category", "filter-tag"]) {
  $(`#${id}`).addEventListener("change", () => { state.page = 1; refreshList(); });
}

// -- one conversation --------------------------------------------------------------------------
async function openConversation(id) {
  state.current = id;
  const [card, thread] = await Promise.all([api("GET", `/conversations/${id}`), api("GET", `/conversations/${id}/messages`)]);
  renderConversation(card, thread.items);
  refreshList();
}
async function refreshThread() {
  if (!state.current) return;
  const thread = await api("GET", `/conversations/${state.current}/messages`);
  const box = $(".thread");
  if (box) { box.replaceChildren(...thread.items.map(renderMessage)); box.scrollTop = box.scrollHeight; }
}
function agentName(id) { const a = state.agents.find((x) => x.id === id); return a ? (a.name || a.email) : id; }
function renderMessage(m) {
  const who = m.author_type === "contact" ? "Customer" : m.author_type === "agent" ? agentName(m.author_id) : m.author_type === "bot" ? `Bot (${m.author_id})` : "";
  const node = el("div", { class: `msg ${m.kind === "message" ? m.direction : m.kind}`, "data-id": m.id });
  if (m.kind !== "event") {
    const meta = el("div", { class: "meta" }, el("span", { text: ICONS[m.channel] || "" }), el("span", { text: who }), el("span", { text: when(m.created_at) }));
    if (m.kind === "note") meta.append(el("span", { text: "private note" }));
    if (m.delivery) {
      meta.append(el("span", { class: `delivery ${m.delivery.status}`, text: m.delivery.status, title: m.delivery.error || "" }));
      if (m.delivery.status === "failed") meta.append(el("button", { class: "link", text: "retry", onclick: async () => { await api("POST", `/conversations/${state.current}/messages/${m.id}/retry`); refreshThread(); } }));
    }
    if (m.kind === "message") meta.append(el("button", { class: "link", text: "move", title: "Move to another ticket", onclick: () => moveMessage(m.id) }));
    node.append(meta);
  }
  node.append(document.createTextNode(m.text));
  node.append(...quotedText(m)); // issue 11: the whole mail behind a toggle
  if (m.html) {
    // Sanitised by the channel, and sandboxed anyway (no scripts, no same origin). Remote
    // images stay blocked, so a sender cannot learn that the mail was read, until asked.
    const frame = el("iframe", { class: "html", sandbox: "", referrerpolicy: "no-referrer", title: "original formatting" });
    const policy = (images) => `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:${images ? " https: http:" : ""}">`;
    frame.srcdoc = policy(false) + m.html;
    const load = el("button", { class: "link", text: "load remote images", onclick: () => { frame.srcdoc = policy(true) + m.html; load.remove(); } });
    node.append(frame, load);
  }
  for (const file of m.attachments) node.append(el("div", {}, el("a", { href: file.url, text: `📄 ${file.name} (${file.size} B)` })));
  if (m.choices.length) node.append(el("div", { class: "meta", text: `choices: ${m.choices.map((c) => c.label).join(" / ")}` }));
  return node;
}
function select(options, value, onchange) {
  return el("select", { onchange }, ...options.map(([v, label]) => el("option", { value: v, selected: v === value, text: label })));
}
async function patch(changes) {
  try { await api("PATCH", `/conversations/${state.current}`, changes); await openConversation(state.current); } catch (e) { alert(e.message); }
}
async function numberToId(label) {
  const number = prompt(label);
  if (!number) return null;
  try { return (await api("GET", `/conversations/by-number/${encodeURIComponent(number.replace("#", ""))}`)).id; } catch (e) { alert(e.message); return null; }
}
async function moveMessage(messageId) {
  const target = await numberToId("Move this message to ticket number:");
  if (target) { try { await withConfirmation("POST", `/messages/${messageId}/move`, { conversation_id: target }); } catch (e) { alert(e.message); } openConversation(state.current); }
}
function renderConversation(card, messages) {
  const c = card.conversation;
  const detail = $("#detail");
  const tags = el("input", { value: c.tags.join(", "), placeholder: "tags", title: "Tags, comma separated" });
  tags.addEventListener("change", () => patch({ tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) }));
  const team = el("input", { value: c.team, placeholder: "team" });
  team.addEventListener("change", () => patch({ team: team.value.trim() }));
  const category = el("input", { value: c.category, placeholder: "category" });
  category.addEventListener("change", () => patch({ category: category.value.trim() }));
  const header = el("header", {},
    el("h2", { text: `${ICONS[c.channel] || ""} #${c.number} ${c.subject}` }),
    select([["open", "Open"], ["pending", "Pending"], ["snoozed", "Snoozed"], ["resolved", "Resolved"], ["closed", "Closed"]], c.status, (e) => patch({ status: e.target.value })),
    select([["low", "Low"], ["normal", "Normal"], ["high", "High"], ["urgent", "Urgent"]], c.priority, (e) => patch({ priority: e.target.value })),
    select([["", "Unassigned"], ...state.agents.map((a) => [a.id, a.id === state.me.id ? `Me (${a.name || a.email})` : (a.name || a.email)])], c.assignee_id || "", (e) => patch({ assignee_id: e.target.value || null })),
    team, category, tags,
    el("button", { text: "Merge into…", onclick: async () => { const target = await numberToId("Merge this ticket into ticket number:"); if (target) { try { if (await withConfirmation("POST", `/conversations/${c.id}/merge`, { into: target })) openConversation(target); } catch (e) { alert(e.message); } } } }),
  );
  const thread = el("div", { class: "thread" }, ...messages.map(renderMessage));
  const contact = card.contact;
  const cardBox = el("aside", { class: "card" },
    el("h3", { text: contact ? (contact.name || contact.email || "Customer") : "Customer" }),
    contact && contact.email ? el("div", { text: contact.email + (contact.email_verified ? " ✓" : " (unverified)"), title: contact.email_verified ? "verified by a channel" : "only claimed: never used to join contacts" }) : null,
    el("h4", { text: "Identities" }),
    el("ul", {}, ...(contact ? contact.identities : []).map((i) => el("li", { text: `${ICONS[i.channel] || i.channel} ${i.display_name || i.address}${i.verified ? " ✓" : ""}` }))),
    el("h4", { text: "Other conversations" }),
    el("ul", {}, ...card.other_conversations.map((o) => el("li", {}, el("button", { class: "link", text: `#${o.number} ${o.subject} (${o.status})`, onclick: () => openConversation(o.id) })))),
    contact ? el("button", { text: "Same person as…", title: "Merge this contact into the contact of another ticket", onclick: async () => {
      const target = await numberToId("This customer is the same person as the customer of ticket number:");
      if (!target) return;
      const other = await api("GET", `/conversations/${target}`);
      await api("POST", `/contacts/${contact.id}/merge`, { into: other.contact.id });
      openConversation(c.id);
    } }) : null,
  );
  const textarea = el("textarea", { placeholder: "Reply… (type / for canned responses, Ctrl+Enter to send)", "aria-label": "Reply" });
  const suggestions = el("ul", { class: "suggestions", hidden: true });
  const compose = el("form", { class: `compose ${state.mode === "note" ? "note-mode" : ""}` }, suggestions, el("div", { class: "typing", id: "typing" }), textarea,
    el("div", { class: "row" },
      el("label", {}, el("input", { type: "radio", name: "mode", value: "reply", checked: state.mode === "reply", onchange: () => { state.mode = "reply"; compose.classList.remove("note-mode"); } }), " Reply"),
      el("label", {}, el("input", { type: "radio", name: "mode", value: "note", checked: state.mode === "note", onchange: () => { state.mode = "note"; compose.classList.add("note-mode"); } }), " Private note"),
      el("button", { type: "submit", text: "Send" })));
  compose.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text) return;
    try { await api("POST", `/conversations/${c.id}/messages`, { text, kind: state.mode }); textarea.value = ""; refreshThread(); } catch (e) { alert(e.message); }
  });
  let lastTyping = 0;
  textarea.addEventListener("input", () => {
    const match = textarea.value.match(/(^|\s)\/([\w-]*)$/);
    const found = match ? state.canned.filter((x) => x.shortcut.startsWith(match[2].toLowerCase())) : [];
    suggestions.hidden = !found.length;
    suggestions.replaceChildren(...found.map((x, i) => el("li", { class: i === 0 ? "active" : "", text: `/${x.shortcut} — ${x.title}`, onclick: () => insertCanned(x) })));
    if (state.mode === "reply" && Date.now() - lastTyping > 2500) { lastTyping = Date.now(); api("POST", `/conversations/${c.id}/typing`).catch(() => {}); }
  });
  function insertCanned(x) {
    textarea.value = textarea.value.replace(/(^|\s)\/[\w-]*$/, `$1${x.text}`);
    suggestions.hidden = true; textarea.focus();
  }
  textarea.addEventListener("keydown", (event) => {
    if (!suggestions.hidden && (event.key === "Tab" || event.key === "Enter")) {
      event.preventDefault();
      const match = textarea.value.match(/(^|\s)\/([\w-]*)$/);
      const found = state.canned.filter((x) => x.shortcut.startsWith((match ? match[2] : "").toLowerCase()));
      if (found.length) insertCanned(found[0]);
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); compose.requestSubmit(); }
  });
  detail.replaceChildren(header, thread, cardBox, compose);
  thread.scrollTop = thread.scrollHeight;
}

// -- live --------------------------------------------------------------------------------------
let listTimer = null;
function connectLive() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
  let typingTimer = null;
  ws.onmessage = (event) => {
    const e = JSON.parse(event.data);
    if (e.type === "typing") {
      if (e.conversation_id === state.current && e.who === "customer") {
        const box = $("#typing"); if (box) { box.textContent = "The customer is typing…"; clearTimeout(typingTimer); typingTimer = setTimeout(() => { box.textContent = ""; }, 4000); }
      }
      return;
    }
    clearTimeout(listTimer); listTimer = setTimeout(refreshList, 150); // a burst of events: one reload
    if (e.conversation_id === state.current || e.type === "resync") {
      if (e.type === "conversation.updated") openConversation(state.current); else refreshThread();
    }
  };
  ws.onclose = (e) => { if (e.code === 4001) showLogin(); else setTimeout(connectLive, 2000); }; // 4001: signed out
}

// -- admin -------------------------------------------------------------------------------------
$("#open-admin").addEventListener("click", async () => { await renderAdmin(); $("#admin").showModal(); });
async function renderAdmin() {
  await loadAgents(); await loadCanned(); await renderChannels();
  $("#agents").replaceChildren(...state.agents.map((a) => el("li", { text: `${a.name || ""} <${a.email}> ${a.role}${a.active ? "" : " (disabled)"} ` },
    a.id === state.me.id ? null : el("button", { class: "link", text: a.active ? "disable" : "enable", onclick: async () => { await api("PATCH", `/agents/${a.id}`, { active: !a.active }); renderAdmin(); } }))));
  const tokens = (await api("GET", "/tokens")).items;
  $("#tokens").replaceChildren(...tokens.map((t) => el("li", { text: `${t.name} (${agentName(t.agent_id)}) ${t.revoked_at ? "revoked" : ""} ` },
    t.revoked_at ? null : el("button", { class: "link", text: "revoke", onclick: async () => { await api("DELETE", `/tokens/${t.id}`); renderAdmin(); } }))));
  $("#canned-list").replaceChildren(...state.canned.map((x) => el("li", { text: `/${x.shortcut} — ${x.title} ` },
    el("button", { class: "link", text: "delete", onclick: async () => { await api("DELETE", `/canned/${x.id}`); renderAdmin(); } }))));
}
// Each channel's state from /healthz: a provider that is down shows here with its reason.
async function renderChannels() {
  const health = await (await fetch("/healthz")).json().catch(() => ({}));
  const channels = Object.entries(health.channels || {});
  $("#channel-status").replaceChildren(...channels.map(([name, c]) => el("li", { class: `channel-${c.state}`, "data-channel": name },
    el("span", { class: "state", text: c.state }), ` ${ICONS[name] || ""} ${name}${c.reason ? ` — ${c.reason}` : ""}${c.since ? ` (since ${when(c.since)})` : ""}`)));
}
function adminForm(id, handler) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    try { await handler(data); event.target.reset(); renderAdmin(); } catch (e) { alert(e.message); }
  });
}
adminForm("#agent-form", (d) => api("POST", "/agents", d));
adminForm("#token-form", async (d) => { const t = await api("POST", "/tokens", d); $("#new-token").textContent = `New token (shown once): ${t.token}`; });
adminForm("#canned-form", (d) => api("POST", "/canned", d));

start();

// Issue 11 (email): "show quoted text". The API's message carries `full_text` (the whole
// text, quoted history included) when `text` shows only the new part, and `flags`
// (e.g. "truncated": the original is attached as original.eml). Kept separate so the
// inbox rewrite can port it as is.
function quotedText(m) {
  const parts = [];
  if (m.flags && m.flags.length) parts.push(el("div", { class: "meta", text: `mail: ${m.flags.join(", ")}` }));
  if (!m.full_text || m.full_text.trim() === (m.text || "").trim()) return parts;
  const full = el("pre", { class: "quoted", text: m.full_text, hidden: true });
  const toggle = el("button", { class: "link", text: "show quoted text", "aria-expanded": "false" });
  toggle.onclick = () => {
    full.hidden = !full.hidden;
    toggle.textContent = full.hidden ? "show quoted text" : "hide quoted text";
    toggle.setAttribute("aria-expanded", String(!full.hidden));
  };
  parts.push(toggle, full);
  return parts;
}
