/*
 * Helpline chat widget. Embed with one tag:
 *   <script src="https://help.example.com/channels/webchat/widget/helpline.js"
 *           data-site="default" data-title="Support" data-lang="auto" async></script>
 * Optional, for signed-in users: data-user-id, data-user-email, data-user-name,
 * data-user-hash (hex HMAC-SHA256 of id, or id + "\n" + email, with the site's secret).
 * When the site signs its user out, call Helpline.logout() (or render the next page without
 * data-user-id: the widget then forgets that user's chat in this browser).
 * Everything customers or agents write is inserted as text, never as HTML.
 */
(async () => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__helplineWidget) return;
  window.__helplineWidget = true;

  const base = new URL(".", new URL("..", script.src)).href; // .../channels/<name>/
  const data = script.dataset;
  const site = data.site || "default";
  const storageKey = `helpline:${base}:${site}`;
  const owner = data.userId || ""; // whose chat the stored token is: a signed-in user's, or ""
  const lang = data.lang && data.lang !== "auto" ? data.lang : navigator.language || "en";
  // The texts come from the hub's catalogs (one per language, the same ones the server
  // speaks from): GET /i18n/widget/<lang>.json answers the catalog best for `lang`.
  const hubRoot = new URL("../../", base).href;
  async function loadCatalog(tag) {
    const resp = await fetch(`${hubRoot}i18n/widget/${encodeURIComponent(tag)}.json`);
    if (!resp.ok) throw new Error(`catalog ${resp.status}`);
    return resp.json();
  }
  let catalog = { locale: "en", messages: {} };
  try { catalog = await loadCatalog(lang); } catch (e) { try { catalog = await loadCatalog("en"); } catch (e2) { /* the hub is unreachable */ } }
  const locale = catalog.locale;
  const plurals = new Intl.PluralRules(locale);
  const numbers = new Intl.NumberFormat(locale);
  // t("key", {name: value}); a plural entry picks its form by `count` (Intl's CLDR rules, as the catalog is
  // keyed); numbers are written the locale's way. Ticket numbers are passed as text: "#1,000" would be wrong.
  function t(key, params = {}) {
    let text = catalog.messages[key];
    if (text && typeof text === "object") text = text[plurals.select(params.count ?? 0)] ?? text.other;
    if (typeof text !== "string") return key;
    const shown = (value) => (typeof value === "number" ? numbers.format(value) : String(value));
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? shown(params[name]) : whole));
  }
  const clock = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const ERRORS = { origin_not_allowed: "not_allowed", unknown_site: "not_allowed", forbidden: "not_allowed", identity_rejected: "identity_rejected", rate_limited: "busy" };
  const explain = (code, message) => (ERRORS[code] ? t(ERRORS[code]) : message || t("unavailable"));
  const sayHeaders = { "Content-Type": "application/json", "Accept-Language": lang }; // server errors in the visitor's language

  const state = { token: null, lastId: "", ws: null, shown: new Set(), pending: new Map(), limits: {}, conversation: null, refused: "" };
  // A stored chat belongs to whoever was signed in when it was stored: on a shared computer,
  // a page without that user (signed out, or someone else) must not show it.
  function loadSaved() {
    try {
      const saved = JSON.parse(localStorage.getItem(storageKey) || "{}");
      if ((saved.owner || "") === owner && (saved.owner !== undefined || !owner)) return saved;
      localStorage.removeItem(storageKey);
    } catch (e) { /* private mode */ }
    return {};
  }
  state.token = loadSaved().token || null;

  // -- the widget's DOM, in a shadow root so the page's CSS cannot break it -----------------
  const host = document.createElement("div");
  host.setAttribute("data-helpline", "");
  host.setAttribute("lang", locale); // screen readers and CJK fonts follow the catalog's language
  const root = host.attachShadow({ mode: "open" });
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const style = el("style", { text: `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0; background: #2563eb; color: #fff; font-size: 26px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; }
    .panel { position: fixed; right: 20px; bottom: 88px; width: 360px; height: 520px; max-height: calc(100vh - 110px); background: #fff; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); display: none; flex-direction: column; overflow: hidden; z-index: 2147483000; color: #111; font-size: 14px; }
    .panel.open { display: flex; }
    header { background: #2563eb; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
    header .title { font-weight: 600; flex: 1; }
    header .ticket { font-size: 12px; } /* no opacity: small text needs its full contrast */
    header button { background: transparent; border: 0; color: #fff; font-size: 20px; cursor: pointer; }
    header a.help { color: #fff; font-size: 12px; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f8fafc; }
    .msg { max-width: 80%; padding: 8px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; line-height: 1.4; }
    .msg.visitor { align-self: flex-end; background: #2563eb; color: #fff; }
    .msg.agent, .msg.bot, .msg.system { align-self: flex-start; background: #e5e7eb; }
    .msg.bot { background: #ede9fe; }
    .msg[data-author]::before { content: attr(data-author); display: block; font-size: 11px; font-weight: 600; color: #374151; margin-bottom: 2px; }
    .msg.bot[data-author]::before { color: #5b21b6; }
    .msg.failed { opacity: .6; border: 1px dashed #dc2626; }
    .msg[data-time]::after { content: attr(data-time); display: block; font-size: 10px; opacity: .7; margin-top: 2px; text-align: right; }
    .msg .unsent { display: block; font-size: 11px; color: #dc2626; margin-top: 4px; }
    .alert { display: none; padding: 8px 12px; background: #fee2e2; color: #991b1b; font-size: 13px; }
    .alert.show { display: block; }
    .msg a { color: inherit; }
    .choices { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
    .choices button { border: 1px solid #2563eb; background: #fff; color: #2563eb; border-radius: 14px; padding: 4px 10px; cursor: pointer; }
    .note { font-size: 12px; color: #555; padding: 4px 12px; min-height: 20px; }
    .offline { padding: 8px 12px; background: #fef3c7; font-size: 13px; display: none; }
    .offline.show { display: block; }
    .offline form { display: flex; gap: 6px; margin-top: 6px; }
    .offline form[hidden] { display: none; } /* the code form waits for an address: display:flex must not show it */
    .offline input { flex: 1; padding: 6px; border: 1px solid #ccc; border-radius: 6px; }
    form.compose { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; }
    form.compose textarea { flex: 1; resize: none; height: 40px; padding: 8px; border: 1px solid #ccc; border-radius: 8px; font-size: 14px; }
    button.send, .offline button { background: #2563eb; color: #fff; border: 0; border-radius: 8px; padding: 0 14px; cursor: pointer; }
    button.attach { background: transparent; border: 0; cursor: pointer; font-size: 20px; align-self: center; padding: 0 2px; }
    input.file { display: none; } /* its button opens it: a hidden input cannot be reached by keyboard */
    button:focus-visible, textarea:focus-visible, input:focus-visible, .log:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 2px; }
    @media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; max-height: 100vh; border-radius: 0; } }
  ` });
  const launcher = el("button", { class: "launcher", "aria-label": t("open"), "aria-haspopup": "dialog", "aria-expanded": "false", "aria-controls": "helpline-panel", text: "💬" });
  const ticketLabel = el("span", { class: "ticket" });
  const closeButton = el("button", { "aria-label": t("close"), text: "×" });
  // The public help centre (/help/), in the widget's language: answers a visitor can read without waiting.
  const helpLink = el("a", { class: "help", href: `${hubRoot}help/${locale.startsWith("zh") ? "zh-CN" : "en"}/`, target: "_blank", rel: "noopener", text: t("help") });
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("conversation"), tabindex: "0" });
  const note = el("div", { class: "note", role: "status", "aria-live": "polite" }); // read out: "reconnecting", "code sent", ...
  const emailInput = el("input", { type: "email", placeholder: t("email"), "aria-label": t("email"), autocomplete: "email", required: "" });
  const emailForm = el("form", {}, emailInput, el("button", { type: "submit", text: t("save") }));
  const codeInput = el("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", placeholder: t("code"), "aria-label": t("code"), required: "" });
  const codeForm = el("form", { hidden: "" }, codeInput, el("button", { type: "submit", text: t("confirm") }));
  const offlineText = el("div", { text: t("offline") });
  const offline = el("div", { class: "offline", role: "status" }, offlineText, emailForm, codeForm);
  const alert = el("div", { class: "alert", role: "alert" });
  const textarea = el("textarea", { placeholder: t("placeholder"), "aria-label": t("placeholder") });  // no maxlength: a paste would be cut silently (sayLength says it instead)
  const fileInput = el("input", { type: "file", class: "file", tabindex: "-1", "aria-hidden": "true" });
  const attachButton = el("button", { type: "button", class: "attach", "aria-label": t("attach"), title: t("attach"), text: "📎" });
  const sendButton = el("button", { class: "send", type: "submit", text: t("send") });
  const compose = el("form", { class: "compose" }, attachButton, fileInput, textarea, sendButton);
  const panel = el("div", { class: "panel", id: "helpline-panel", role: "dialog", "aria-labelledby": "helpline-title" },
    el("header", {}, el("span", { class: "title", id: "helpline-title", text: data.title || t("title") }), ticketLabel, helpLink, closeButton), alert, offline, log, note, compose);
  root.append(style, launcher, panel);
  (document.body || document.documentElement).append(host);

  // -- rendering: text only (links as <a> elements, never HTML) ------------------------------
  // http(s) addresses in what the team wrote become links (a status page link, an article);
  // the text around them stays text nodes. Closing punctuation typed after an address is not
  // part of it ("…/status/1000.x。"). The visitor's own words are never linked.
  const ADDRESS = /https?:\/\/[^\s<>"'`\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+/g;
  function linked(text) {
    const parts = [];
    let at = 0;
    for (const found of text.matchAll(ADDRESS)) {
      const address = found[0].replace(/[.,;:!?)\]}]+$/, "");
      let url = null;
      try { url = new URL(address); } catch { url = null; }
      if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) continue;
      parts.push(document.createTextNode(text.slice(at, found.index)));
      parts.push(el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer", text: address }));
      at = found.index + address.length;
    }
    parts.push(document.createTextNode(text.slice(at)));
    return parts;
  }
  // A question's buttons stay only until the visitor answers it, by a tap or in words (a
  // message the hub took, with text: a file alone answers nothing): later, "是/否" under an
  // answer already turned down reads as a question still open. Only questions older than
  // the answer lose them (a message echoed from another tab may arrive after a newer one).
  function retireChoices(answer) {
    if (!answer.text) return;
    for (const row of log.querySelectorAll(".msg[data-id] .choices")) {
      if (row.parentElement.getAttribute("data-id") >= answer.id) continue;
      const focused = row.contains(root.activeElement);
      row.remove();
      if (focused) textarea.focus(); // the tapped button is gone: the visitor stays in the chat
    }
  }
  // The local greeting heads the chat, after a reload too (the hub does not store it, so the
  // history it replays does not have it); no data-id: it is no message of the thread.
  function welcome() {
    if (!log.querySelector(".welcome")) log.prepend(el("div", { class: "msg system welcome", text: t("welcome") }));
  }
  function render(message, { failed = false } = {}) {
    if (!message || typeof message !== "object" || state.shown.has(message.id)) return; // never twice, whatever the socket replays
    state.shown.add(message.id);
    if (message.from === "visitor") retireChoices(message);
    if (message.id > state.lastId) { state.lastId = message.id; persist(); }
    const bubble = el("div", { class: `msg ${message.from}${failed ? " failed" : ""}`, "data-id": message.id });
    // Who wrote it, shown by CSS before the text (as the time after it): an agent by name, the bot as the bot.
    if (message.from === "agent") bubble.setAttribute("data-author", `👤 ${message.author_name || t("agent")}`);
    else if (message.from === "bot") bubble.setAttribute("data-author", `🤖 ${t("bot")}`);
    if (message.from === "agent" || message.from === "bot") bubble.append(...linked(message.text || ""));
    else bubble.append(document.createTextNode(message.text || ""));
    if (message.created_at) { // shown by CSS after the text, so the bubble's text stays the message's
      const at = new Date(message.created_at);
      bubble.setAttribute("data-time", clock.format(at)); bubble.title = at.toLocaleString(locale);
    }
    (message.attachments || []).forEach((file, i) => {
      // A line break between files, and after text: a file sent alone starts on the first line.
      if (i > 0 || message.text) bubble.append(el("br"));
      bubble.append(el("a", { href: `${base}attachments/${encodeURIComponent(file.ref)}?token=${encodeURIComponent(state.token)}`, text: `📄 ${file.name}`, rel: "noopener" }));
    });
    if ((message.choices || []).length) {
      const row = el("div", { class: "choices" });
      for (const choice of message.choices) {
        const button = el("button", { type: "button", text: choice.label });
        button.addEventListener("click", () => sendFrame({ type: "choice", choice_id: choice.id, text: choice.label }));
        row.append(button);
      }
      bubble.append(row);
    }
    log.append(bubble);
    log.scrollTop = log.scrollHeight;
  }
  function showTicket(conversation) {
    state.conversation = conversation;
    ticketLabel.textContent = conversation ? t("ticket", { number: String(conversation.number), status: t(`status.${conversation.status}`) }) : "";
  }
  function persist() {
    try { localStorage.setItem(storageKey, JSON.stringify({ owner, token: state.token, lastId: state.lastId })); } catch (e) { /* ignore */ }
  }
  function markUnsent(bubble, why) {
    if (!bubble || bubble.classList.contains("failed")) return;
    bubble.classList.add("failed"); bubble.title = why || t("failed");
    bubble.append(el("span", { class: "unsent", text: t("failed") }));
  }
  function refuse(message) { // the hub will not take this visitor's messages: say so, keep nothing pending
    state.refused = message;
    alert.textContent = message; alert.classList.add("show");
    for (const id of state.pending.keys()) markUnsent(log.querySelector(`[data-client="${CSS.escape(id)}"]`), message);
    state.pending.clear();
  }
  async function answerOf(resp) { try { return await resp.json(); } catch (e) { return {}; } }
  // Forget this browser's chat (sign-out): nothing of it stays on the page or in storage.
  function forget() {
    try { localStorage.removeItem(storageKey); } catch (e) { /* ignore */ }
    const ws = state.ws;
    clearTimeout(state.timer); clearTimeout(state.resendTimer);
    Object.assign(state, { token: null, lastId: "", ws: null, conversation: null, refused: "", failures: 0, renew: false, timer: null, holding: false, inFlight: null, resendTimer: null });
    state.shown.clear(); state.pending.clear(); state.tries.clear();
    if (ws) ws.close();
    log.replaceChildren(); note.textContent = ""; alert.classList.remove("show"); showTicket(null);
    close({ focus: false }); started = false;
  }

  // -- talking to the hub ----------------------------------------------------------------------
  async function startSession() {
    const body = { site, token: state.token || undefined };
    if (data.userId) body.user = { id: data.userId, email: data.userEmail || undefined, name: data.userName || undefined, hash: data.userHash || "" };
    const resp = await fetch(`${base}session`, { method: "POST", headers: sayHeaders, body: JSON.stringify(body) });
    const answer = await answerOf(resp);
    if (!resp.ok) { const error = new Error(`session ${resp.status}`); error.status = resp.status; error.code = answer.error; error.said = answer.message; throw error; }
    state.token = answer.token; state.limits = answer.limits || {};
    persist();
    showTicket(answer.conversation);
    showOffline(!answer.agents_online, answer.email_answers, null);
  }
  // Nobody online: said above the conversation, with the email form only when the hub can answer
  // by email (an address asked for and then refused helped nobody).
  function showOffline(away, emailAnswers, email) {
    offline.classList.toggle("show", Boolean(away));
    emailForm.hidden = !emailAnswers || Boolean(email);
    if (email || !emailAnswers) codeForm.hidden = true;
    offlineText.textContent = email ? t("offline_email", { email }) : t(emailAnswers ? "offline" : "offline_later");
  }
  // A message longer than the hub takes is kept in the box, said, and not sent: a paste cut at
  // the limit lost its end without a word (a trial).
  function tooLong() {
    const max = state.limits.max_message_chars || 0;
    return max > 0 && textarea.value.length > max;
  }
  function sayLength() {
    const over = tooLong();
    textarea.setAttribute("aria-invalid", over ? "true" : "false");
    sendButton.disabled = over;
    if (over) note.textContent = t("too_long_here", { count: textarea.value.length, max: state.limits.max_message_chars });
    else if (note.dataset.length) note.textContent = "";
    note.dataset.length = over ? "1" : "";
  }
  // -- the connection: one manager per page ---------------------------------------------------
  // Reconnects with exponential backoff and jitter (many widgets must not come back at once
  // after a hub restart). When a socket is refused before it opens (a page cannot see why), and
  // after RETRY.renewAfter failed attempts in a row, it asks for a new session first: that renews
  // the token (expired, or signed with a secret the hub rotated) or finds the hub still away. Every
  // open says hello with the last message shown, so the hub sends what was missed, and resends
  // what it has not acknowledged (the hub recognises a resent client_id: never stored twice).
  const RETRY = { baseMs: 500, maxMs: 30000, renewAfter: 3, resendTries: 5 };
  Object.assign(state, { failures: 0, renew: false, timer: null, connecting: false, tries: new Map(), holding: false, inFlight: null, resendTimer: null });
  const backoff = (attempt) => { const cap = Math.min(RETRY.maxMs, RETRY.baseMs * 2 ** Math.max(0, attempt - 1)); return cap / 2 + Math.random() * (cap / 2); };
  const isOpen = () => Boolean(state.ws && state.ws.readyState === WebSocket.OPEN);
  function retryLater({ renew = false } = {}) {
    clearTimeout(state.timer);
    state.failures += 1;
    if (renew || state.failures % RETRY.renewAfter === 0) state.renew = true;
    note.textContent = t("reconnecting");
    state.timer = setTimeout(connect, backoff(state.failures));
  }
  async function renewSession() {
    try { await startSession(); } catch (e) {
      if (e.status !== 401) throw e;
      state.token = null; await startSession(); // the stored token expired or was revoked: a new chat
    }
  }
  async function connect() {
    clearTimeout(state.timer); state.timer = null;
    if (!started || state.refused || state.connecting || (state.ws && state.ws.readyState <= WebSocket.OPEN)) return;
    state.connecting = true;
    try {
      if (state.renew || !state.token) { await renewSession(); state.renew = false; }
    } catch (e) {
      state.connecting = false;
      // Refused (a 4xx other than "slow down"): say why and stop. Unreachable or failing: later.
      if (e.status && e.status < 500 && e.status !== 408 && e.status !== 429) { refuse(explain(e.code, e.said)); return; }
      retryLater(); return;
    }
    state.connecting = false;
    if (!started) return; // signed out meanwhile
    const url = new URL(`${base}ws`); url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", state.token);
    url.searchParams.set("lang", lang); // the visitor's language: stored on the contact, and error frames in it
    const ws = new WebSocket(url);
    state.ws = ws;
    let typingTimer = null;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: "hello", after: state.lastId }));
      if (state.pending.size) { state.holding = true; resendNext(); } // resend unacknowledged, in order
    };
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; } // not ours to understand: ignore it
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "hello") {
        state.failures = 0; note.textContent = ""; // the token works: the next failure starts over
        showTicket(frame.conversation);
        // An address confirmed before: said, not asked for again (a trial typed it twice).
        showOffline(!frame.agents_online, frame.email_answers, frame.email);
        welcome();
        for (const message of Array.isArray(frame.messages) ? frame.messages : []) render(message);
      } else if (frame.type === "ack") {
        state.pending.delete(frame.client_id); state.tries.delete(frame.client_id);
        if (note.textContent === state.heldNote) note.textContent = ""; // taken: "too many" is no longer true
        if (state.inFlight === frame.client_id) { state.inFlight = null; resendNext(); }
        const local = log.querySelector(`[data-client="${CSS.escape(String(frame.client_id))}"]`);
        if (local) local.remove();
        render(frame.message); showTicket(frame.conversation);
      } else if (frame.type === "message") {
        note.textContent = ""; render(frame.message);
        // an agent wrote: someone is there, whatever the banner said when the page opened
        if (frame.message && frame.message.from === "agent") offline.classList.remove("show");
      } else if (frame.type === "ticket") {
        if (frame.conversation) showTicket(frame.conversation); // an update (or the merged-into ticket); never a clear
      } else if (frame.type === "typing") {
        note.textContent = t("typing"); clearTimeout(typingTimer); typingTimer = setTimeout(() => { note.textContent = ""; }, 4000);
      } else if (frame.type === "error") {
        const id = frame.client_id;
        const said = explain(frame.code, frame.message); // "too many" from the widget's catalog
        if ((frame.code === "unavailable" || frame.code === "rate_limited") && state.pending.has(id)) {
          note.textContent = state.heldNote = said;
          // Held back: what follows it was held back too (or is about to be). Hold everything
          // and resend from the oldest, one at a time (resendNext), so the order stays the visitor's.
          if (state.holding && state.inFlight !== id) return; // sent before the hold: its turn comes
          const tries = (state.tries.get(id) || 0) + 1; // the hub could not take it yet: again, later, a few times
          state.tries.set(id, tries);
          if (tries <= RETRY.resendTries) {
            state.holding = true; state.inFlight = null;
            clearTimeout(state.resendTimer);
            state.resendTimer = setTimeout(resendNext, frame.retry_after > 0 ? frame.retry_after * 1000 : backoff(tries));
            return;
          }
        }
        if (id) {
          state.pending.delete(id); state.tries.delete(id);
          markUnsent(log.querySelector(`[data-client="${CSS.escape(String(id))}"]`), said);
          if (state.inFlight === id) { state.inFlight = null; resendNext(); }
        }
        note.textContent = said;
      }
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return; // replaced, or forgotten by a sign-out
      state.ws = null; state.inFlight = null; // resent from the oldest on the next open
      if (event.code === 4001) { forget(); return; } // signed out (in another window, say)
      if (event.code === 4008) { note.textContent = t("busy"); return; } // refused by policy: do not hammer
      retryLater({ renew: !opened });
    };
  }
  // Back on the network: no need to wait for the next attempt.
  window.addEventListener("online", () => { if (started && !state.ws) connect(); });
  function sendFrame(frame) {
    frame.client_id = frame.client_id || `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    let bubble = null;
    if (frame.type === "message" || frame.type === "choice") {
      bubble = el("div", { class: "msg visitor", "data-client": frame.client_id, text: frame.text || "" });
      log.append(bubble); log.scrollTop = log.scrollHeight;
    }
    if (state.refused) { markUnsent(bubble, state.refused); return; }
    state.pending.set(frame.client_id, frame);
    if (isOpen() && !state.holding) state.ws.send(JSON.stringify(frame)); // else it waits its turn
  }
  // While held back (the hub said "later", or after a reconnect), the unacknowledged frames go
  // strictly in the order they were written: the oldest, and the next only once it is acknowledged.
  function resendNext() {
    clearTimeout(state.resendTimer); state.resendTimer = null;
    if (state.inFlight || !isOpen()) return; // one at a time; the next open starts again
    const next = state.pending.values().next().value;
    if (!next) { state.holding = false; return; } // all taken: send as they come again
    state.inFlight = next.client_id;
    state.ws.send(JSON.stringify(next));
  }

  // -- events ------------------------------------------------------------------------------------
  let started = false;
  function open() {
    panel.classList.add("open"); launcher.setAttribute("aria-expanded", "true");
    textarea.focus();
    if (started) return;
    started = true;
    state.renew = true; // a fresh session: renews the stored token, or starts a chat
    connect();
  }
  // Closing gives the focus back to the launcher, where the visitor opened it from.
  function close({ focus = true } = {}) {
    panel.classList.remove("open"); launcher.setAttribute("aria-expanded", "false");
    if (focus) launcher.focus();
  }
  launcher.addEventListener("click", () => (panel.classList.contains("open") ? close() : open()));
  closeButton.addEventListener("click", () => close());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.isComposing) { event.preventDefault(); close(); }
  });
  attachButton.addEventListener("click", () => fileInput.click());
  compose.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text || tooLong()) return;
    sendFrame({ type: "message", text });
    textarea.value = ""; sayLength();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); compose.requestSubmit(); }
  });
  let lastTyping = 0;
  textarea.addEventListener("input", () => {
    sayLength();
    if (Date.now() - lastTyping > 2000 && isOpen()) {
      lastTyping = Date.now(); state.ws.send(JSON.stringify({ type: "typing" }));
    }
  });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (state.limits.max_attachment_bytes && file.size > state.limits.max_attachment_bytes) { note.textContent = t("too_large"); return; }
    const form = new FormData(); form.append("file", file, file.name);
    if (state.refused) return;
    const resp = await fetch(`${base}upload?token=${encodeURIComponent(state.token)}`, { method: "POST", headers: { "Accept-Language": lang }, body: form });
    const answer = await answerOf(resp);
    if (!resp.ok) { note.textContent = explain(answer.error, answer.message); return; }
    sendFrame({ type: "message", text: "", attachments: [answer] });
  });
  emailForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const resp = await fetch(`${base}email`, { method: "POST", headers: sayHeaders, body: JSON.stringify({ token: state.token, email: emailInput.value }) });
    const answer = await answerOf(resp);
    const asked = { confirmation_sent: "code_sent", confirmation_pending: "code_sent_before" }[answer.status];
    if (resp.ok && asked) { codeForm.hidden = false; codeInput.focus(); note.textContent = t(asked); return; }
    note.textContent = resp.ok ? t("saved") : explain(answer.error, answer.message);
  });
  codeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const resp = await fetch(`${base}email/confirm`, { method: "POST", headers: sayHeaders, body: JSON.stringify({ token: state.token, code: codeInput.value }) });
    const answer = await answerOf(resp);
    if (resp.ok) { // where replies go now, not the form again (a trial's banner still asked for an address)
      codeForm.hidden = true; note.textContent = t("saved");
      showOffline(offline.classList.contains("show"), true, answer.email || emailInput.value);
      return;
    }
    note.textContent = answer.error === "wrong_code" ? t("wrong_code") : explain(answer.error, answer.message);
  });
  // For the site: call Helpline.logout() when its user signs out.
  window.Helpline = Object.assign(window.Helpline || {}, {
    async logout() {
      const token = state.token || loadSaved().token;
      forget();
      if (token) await fetch(`${base}logout`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) }).catch(() => {});
    },
  });
  // Reopen after a reload when the visitor had a conversation going.
  if (state.token) open();
})();
