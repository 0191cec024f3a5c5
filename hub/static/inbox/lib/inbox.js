// What the inbox does, apart from how it looks: loading the list and a ticket, applying
// live events without losing what the agent is typing, and the changes agents make.
import { api, latestOnly, withConfirmation } from "./api.js";
import { pickLabel, t } from "./i18n.js";
import { LiveConnection } from "./live.js";
import { state, update } from "./store.js";
import { throttle } from "./timing.js";
import { VIEWS } from "./views.js";

const LIST_WAIT_MS = 250; // a burst of events: one reload...
const LIST_MAX_WAIT_MS = 1000; // ...but never later than this under steady traffic
const COUNTS_EVERY_MS = 15000; // the view counts: on a timer, and soon after events
const CLOCKS_EVERY_MS = 60000; // SLA clocks shown: fetched again on a timer (their minutes)
const COUNTS_WAIT_MS = 2000;
const COUNTS_MAX_WAIT_MS = 5000;
const NOTICE_MS = 5000;

const listLoads = latestOnly();
const ticketLoads = latestOnly();
let countsTimer = null;
let clocksTimer = null;

let noticeTimer = null;
export function notify(text, kind = "status") {
  update({ notice: { text, kind, at: Date.now() } });
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => update({ notice: null }), NOTICE_MS);
}

export function failed(e) { notify(errorText(e), "error"); }

// Field refusals are said from their reason in the agent's language, naming fields by label.
function errorText(e) {
  const details = e.details || {};
  if (e.code === "fields_required" && Array.isArray(details.missing)) {
    return t("fields.missing", { fields: details.missing.map((m) => pickLabel(m.labels)).join(", ") });
  }
  if (e.code === "invalid_field" && details.reason) {
    const definition = (state.ticket?.card.field_definitions || []).find((d) => d.key === details.field);
    return t(`field_error.${details.reason}`, { ...details.params, field: definition ? pickLabel(definition.labels) : details.field });
  }
  return codeText(e);
}

// Refusals whose message names what was refused (a field, a line): the catalog's text leads,
// the hub's detail follows, since only it says which field.
const DETAILED_ERRORS = new Set(["bad_request", "conflict", "csv_line", "error", "in_use", "invalid", "refused", "resolve_refused", "search_rejected"]);

// An error in the agent's language, from the catalog by its code (error.<code>); the hub's
// English message only for a code the catalog does not know.
const HAN = /[\u3400-\u9fff]/;

export function codeText(e) {
  const key = `error.${e.code}`;
  const text = e.code ? t(key) : key;
  if (text === key) return e.message;
  // The hub words some errors in the agent's language itself, often in more detail than the
  // code's catalog text ("这不是有效的电话号码。不带 + 的号码……"): a message in the same script as
  // the catalog's is already the agent's language, so it is kept as it is.
  if (e.message && HAN.test(e.message) === HAN.test(text)) return e.message;
  return DETAILED_ERRORS.has(e.code) && e.message ? `${text}: ${e.message}` : text;
}

// -- the list ----------------------------------------------------------------------------
export function listParams() {
  const [, view] = VIEWS.find(([key]) => key === state.view);
  const params = new URLSearchParams({ ...view, page: state.page, per_page: state.perPage });
  for (const [name, value] of Object.entries(state.filters)) if (value.trim()) params.set(name, value.trim());
  return params;
}

// The list load on its way ({ params, since }), and whether live events asked for another
// meanwhile. A refresh never aborts a load of the same list: on a loaded hub (say, after a
// reconnect under load) a load takes longer than events come, each refresh aborted the one
// before, and the list stopped changing while the counts (their own timer) went on.
let listLoading = null;
let listAgain = false;
const LIST_STUCK_MS = 15000; // a load on its way longer than this is given up for a new one

const afterList = []; // what waits for the list a change of filters asked for (↓ from the search)

// `fn` once the next list has loaded (the one a change just asked for), not the one shown now.
export function whenListLoaded(fn) { afterList.push(fn); }

export async function loadList() {
  const params = listParams().toString();
  const loading = { params, since: Date.now() };
  listLoading = loading;
  try {
    const loaded = await listLoads((signal) => api("GET", `/conversations?${params}`, undefined, { signal }));
    if (!loaded) return;
    const ids = new Set(loaded.result.items.map((c) => c.id));
    const selected = new Set([...state.selected].filter((id) => ids.has(id)));
    const shown = shownId();
    const left = shown && !ids.has(shown) && state.list.items.some((c) => c.id === shown);
    update({ list: { ...loaded.result, loaded: true }, selected });
    const then = afterList.splice(0);
    for (const fn of then) fn();
    // The shown ticket left the list: moved on, or out of this agent's sight (no live event
    // says the latter: events go to those who may see the ticket now).
    if (left) refreshCard(shown).catch(() => {});
  } finally {
    if (listLoading === loading) {
      listLoading = null;
      if (listAgain) { listAgain = false; refreshListSoon(); } // what changed while it loaded
    }
  }
}

function refreshList() {
  const loading = listLoading;
  if (loading && loading.params === listParams().toString() && Date.now() - loading.since < LIST_STUCK_MS) {
    listAgain = true; // once it lands
    return;
  }
  loadList().catch(() => {});
}

export async function loadCounts() {
  try { update({ counts: await api("GET", "/conversations/counts") }); } catch (e) { /* the timer tries again */ }
}

export const refreshListSoon = throttle(refreshList, LIST_WAIT_MS, LIST_MAX_WAIT_MS);
const refreshCountsSoon = throttle(loadCounts, COUNTS_WAIT_MS, COUNTS_MAX_WAIT_MS);

// A changed ticket's row is replaced in place from its own fresh copy.
async function patchRow(id) {
  if (!state.list.items.some((c) => c.id === id)) return;
  try {
    const card = await api("GET", `/conversations/${id}`);
    update({ list: { ...state.list, items: state.list.items.map((c) => (c.id === id ? { ...c, ...card.conversation, preview: c.preview, contact_name: c.contact_name || card.conversation.contact_name, contact_anonymous: c.contact_name ? c.contact_anonymous : card.conversation.contact_anonymous } : c)) } });
  } catch (e) { /* the throttled reload fixes it */ }
}

export function setView(view) { update({ view, page: 1, selected: new Set(), pane: "list", menuOpen: false }); loadList().catch(failed); }
export function setFilter(name, value) { update({ filters: { ...state.filters, [name]: value }, page: 1 }); loadList().catch(failed); }
export function clearFilters() { update({ filters: { q: "", channel: "", priority: "", team: "", category: "", tag: "" }, page: 1 }); loadList().catch(failed); }
export function setPage(page) { update({ page }); loadList().catch(failed); }

// -- one ticket ---------------------------------------------------------------------------
// Tickets that changed while being opened: their card and thread were read before the change
// (a call logged on a new phone ticket, given its team a moment later), so they are read again.
const changedWhileOpening = new Set();

export async function openTicket(id) {
  update({ loadingId: id, focusedId: id, pane: "ticket", menuOpen: false, detailsOpen: false });
  changedWhileOpening.delete(id);
  const loaded = await ticketLoads(async (signal) => {
    const [card, thread] = await Promise.all([
      api("GET", `/conversations/${id}`, undefined, { signal }),
      api("GET", `/conversations/${id}/messages`, undefined, { signal }),
    ]);
    return { card, messages: thread.items };
  });
  if (!loaded) return; // a newer ticket was opened meanwhile
  update({ ticket: loaded.result, loadingId: null, others: {}, list: { ...state.list, items: state.list.items.map((c) => (c.id === id ? { ...c, unread: false } : c)) } });
  markRead(id);
  sayViewing(id);
  if (changedWhileOpening.delete(id)) { refreshCard(id).catch(() => {}); appendMessages(id).catch(() => {}); }
}

// Reading is a GET that changes nothing; having shown the thread, the inbox says so.
function markRead(id) {
  api("POST", `/conversations/${id}/read`).catch(() => {}); // a lost marker only leaves the ticket bold
}

// The header and sidebar from a fresh copy; the thread and the composer are left alone.
async function refreshCard(id) {
  let card;
  try { card = await api("GET", `/conversations/${id}`); } catch (e) { lostSight(id, e); throw e; }
  // (never clears `gone`: an answer asked for before the ticket left may come after; opening it again does)
  if (state.ticket?.card.conversation.id === id) update({ ticket: { ...state.ticket, card } });
}

// The ticket on screen is no longer this agent's to see (escalated to another team, moved by
// a supervisor): the pane says so and offers nothing to do on it, instead of a live-looking
// reply box whose every call now fails (a trial's agent kept answering it).
function lostSight(id, e) {
  if (e?.status === 404 && shownId() === id && !state.ticket.gone) update({ ticket: { ...state.ticket, gone: true } });
}

// New messages are appended (after= the last one shown); edits reload the thread only.
async function appendMessages(id) {
  const shown = state.ticket?.messages || [];
  const last = shown[shown.length - 1];
  let thread;
  try {
    thread = await api("GET", `/conversations/${id}/messages${last ? `?after=${encodeURIComponent(last.id)}` : ""}`);
  } catch (e) { lostSight(id, e); throw e; }
  if (state.ticket?.card.conversation.id !== id) return;
  const known = new Set(state.ticket.messages.map((m) => m.id));
  const fresh = thread.items.filter((m) => !known.has(m.id));
  if (fresh.length) update({ ticket: { ...state.ticket, messages: [...state.ticket.messages, ...fresh] } });
  if (fresh.some((m) => m.direction === "inbound")) markRead(id); // seen as it arrived
}

async function reloadMessages(id) {
  const thread = await api("GET", `/conversations/${id}/messages`);
  if (state.ticket?.card.conversation.id === id) update({ ticket: { ...state.ticket, messages: thread.items } });
}

export function shownId() { return state.ticket?.card.conversation.id || null; }

// "Assign to me" (a, the sidebar's link) on a ticket another agent has asks first: a supervisor
// may have just given it to them, and one key took it away silently (a trial).
// The hub refuses it (409) when the ticket was given to someone else since the card was read:
// the card is read again and the agent asked about the new assignee.
export async function takeTicket(id, retried = false) {
  const c = shownId() === id ? state.ticket.card.conversation : null;
  if (c && c.assignee_id && c.assignee_id !== state.me.id) {
    const owner = state.agents.find((a) => a.id === c.assignee_id);
    if (!confirm(t("attr.take_from", { agent: owner?.name || owner?.email || c.assignee_id }))) return null;
  }
  try {
    const seen = c ? { expected_assignee_id: c.assignee_id || null } : {};
    const updated = await api("PATCH", `/conversations/${id}`, { assignee_id: state.me.id, ...seen });
    if (shownId() === id) { await refreshCard(id); await appendMessages(id); }
    replaceRow(updated); loadCounts();
    return updated;
  } catch (e) {
    if (e.code !== "conflict" || shownId() !== id || retried) { failed(e); return null; }
    await refreshCard(id).catch(() => {});
    return takeTicket(id, true); // asked again, about who has it now
  }
}

// Every change names the ticket it was rendered for, never "whatever is current now".
export async function patchTicket(id, changes) {
  try {
    const updated = await api("PATCH", `/conversations/${id}`, changes);
    if (changes.fields && state.notice?.kind === "error") update({ notice: null }); // a field's refusal, put right
    if (shownId() === id) {
      try { await refreshCard(id); await appendMessages(id); } catch (e) {
        // The change took the ticket out of this agent's sight (another team's category): the
        // pane says so; "not found, perhaps deleted" beside it misled (a trial).
        if (e.status !== 404) throw e;
        const card = state.ticket?.card;
        if (card && shownId() === id) update({ ticket: { ...state.ticket, card: { ...card, conversation: { ...card.conversation, ...updated } } } }); // as changed, greyed
      }
    }
    replaceRow(updated);
    loadCounts();
    return updated;
  } catch (e) { failed(e); return null; }
}

function replaceRow(conversation) {
  update({ list: { ...state.list, items: state.list.items.map((c) => (c.id === conversation.id ? { ...c, ...conversation, preview: c.preview, contact_name: c.contact_name, contact_anonymous: c.contact_anonymous } : c)) } });
}

// The newest message of the shown thread: what an agent had read when they began a reply.
export function lastShownMessage(id) {
  const thread = shownId() === id ? state.ticket.messages : [];
  return thread.length ? thread[thread.length - 1].id : "";
}

// A reply names the newest message there was when the agent began writing it (`seen`): when
// another agent answered the customer since, the hub asks first (409 replied_meanwhile), the
// thread shows that answer, and the agent decides; null when they kept theirs (two agents
// replied 0.3 s apart, a trial).
export async function sendMessage(id, { text, kind, attachments, seen = "" }) {
  const body = { text, kind, attachments };
  if (kind === "reply" && seen) body.seen = seen;
  let message;
  try {
    message = await api("POST", `/conversations/${id}/messages`, body);
  } catch (e) {
    if (e.code !== "replied_meanwhile") throw e;
    if (shownId() === id) await appendMessages(id);
    if (!confirm(t("collision.replied", { agent: e.details?.agent || "" }))) return null;
    message = await api("POST", `/conversations/${id}/messages`, { ...body, confirm: true });
  }
  if (shownId() === id) await appendMessages(id);
  return message;
}

// -- who else has the shown ticket open ------------------------------------------------------
export const VIEWING_EVERY_MS = 15000;
export const VIEWER_GONE_MS = 40000; // two beats missed: they closed it
export const TYPING_SHOWN_MS = 6000;

function sayViewing(id) {
  api("POST", `/conversations/${id}/viewing`).catch(() => {}); // a lost beat only hides this agent a while
}

let viewingTimer = null;
function startViewingBeat() {
  clearInterval(viewingTimer);
  viewingTimer = setInterval(() => { if (shownId() && document.visibilityState === "visible") sayViewing(shownId()); }, VIEWING_EVERY_MS);
}

function noteOther(event, typing) {
  const known = (state.others || {})[event.agent_id];
  const now = Date.now();
  update({ others: { ...(state.others || {}), [event.agent_id]: { name: event.name || known?.name || "", seen: now, typingAt: typing ? now : known?.typingAt || 0 } } });
  if (!known && !typing) sayViewing(event.conversation_id); // they learn of this agent at once, not at its next beat
}

export async function uploadFile(id, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return api("POST", `/conversations/${id}/uploads`, form);
}

export async function mergeInto(sourceId, target) {
  const merged = await withConfirmation("POST", `/conversations/${sourceId}/merge`, { into: target.id });
  if (!merged) return false;
  update({ dialog: null });
  notify(t("merge.done", { source: state.ticket?.card.conversation.number ?? "", target: target.number }));
  await openTicket(target.id); // the emptied ticket is closed: show where its messages went
  loadList().catch(() => {}); loadCounts();
  return true;
}

export async function bulkPatch(changesFor) {
  const ids = [...state.selected];
  const rows = state.list.items.filter((c) => ids.includes(c.id));
  let done = 0;
  const refused = []; // each ticket the hub refused, with why (a resolve missing required fields)
  for (const row of rows) {
    try { await api("PATCH", `/conversations/${row.id}`, changesFor(row)); done += 1; } catch (e) { refused.push(`#${row.number}: ${errorText(e)}`); }
  }
  notify([t("bulk.done", { count: done }), ...refused].join(" — "), refused.length ? "error" : "status");
  // The ticks stay on the tickets still listed: assigning, tagging and a priority are often one
  // round of changes (a trial ticked the rows three times); loadList drops those that left.
  await loadList(); loadCounts();
  if (shownId() && ids.includes(shownId())) refreshCard(shownId()).catch(() => {});
}

// -- live ---------------------------------------------------------------------------------
let typingTimer = null;

// Parts of other screens (the hotline's callbacks) follow live events and resyncs too.
const liveHandlers = new Set();
export function onLiveEvent(handler) { liveHandlers.add(handler); }

function onEvent(event) {
  if (event.type !== "resync") for (const handler of liveHandlers) handler(event);
  const anotherAgent = event.conversation_id === shownId() && event.agent_id && event.agent_id !== state.me?.id;
  if (event.type === "viewing") {
    if (anotherAgent) noteOther(event, false);
    return;
  }
  if (event.type === "typing") {
    if (event.conversation_id === shownId() && event.who === "customer") {
      update({ typing: true });
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => update({ typing: false }), 4000);
    } else if (anotherAgent && event.who === "agent") noteOther(event, true);
    return;
  }
  if (event.type === "resync") { resync(); return; }
  refreshListSoon();
  refreshCountsSoon();
  const id = event.conversation_id;
  if (event.type === "conversation.updated") patchRow(id);
  if (id && id === state.loadingId && id !== shownId()) changedWhileOpening.add(id);
  if (id !== shownId()) return;
  if (event.type === "conversation.left") { lostSight(id, { status: 404 }); return; } // moved out of this agent's sight
  if (event.type === "conversation.updated") {
    refreshCard(id).catch(() => {});
    appendMessages(id).catch(() => {}); // moved-in messages, or the change's system event
  } else if (event.type === "message.created") {
    // whoever was writing has sent it: "… 正在回复客户" goes (the next keystroke says it again)
    if (Object.values(state.others || {}).some((o) => o.typingAt)) {
      update({ others: Object.fromEntries(Object.entries(state.others).map(([k, o]) => [k, { ...o, typingAt: 0 }])) });
    }
    appendMessages(id).catch(() => {});
    refreshCard(id).catch(() => {}); // an agent's reply stops the first-response clock in the header
  }
  else if (event.type === "message.updated") reloadMessages(id).catch(() => {});
  else if (event.type.startsWith("record.")) update({ recordsChanged: Date.now() }); // the sidebar reloads them
}

// Everything the hub words in the agent's language (events, bots' notes, previews) read again:
// after the agent changed language, the thread on screen was still in the old one (a trial).
export function rereadInLanguage() {
  loadList().catch(() => {});
  const id = shownId();
  if (id) { refreshCard(id).catch(() => {}); reloadMessages(id).catch(() => {}); }
}

export function resync() {
  for (const handler of liveHandlers) handler({ type: "resync" });
  loadList().catch(() => {});
  loadCounts();
  const id = shownId();
  if (id) { refreshCard(id).catch(() => {}); appendMessages(id).catch(() => {}); }
}

export const live = new LiveConnection({
  onEvent,
  onOpen: resync,
  onSignedOut: () => signedOut(),
  onState: (connection) => update({ connection }),
});

export function startCountsTimer() {
  clearInterval(countsTimer);
  countsTimer = setInterval(loadCounts, COUNTS_EVERY_MS);
  clearInterval(clocksTimer);
  clocksTimer = setInterval(refreshRunningClocks, CLOCKS_EVERY_MS);
  startViewingBeat();
}

// SLA clocks count down between events too: what shows a running clock is fetched again
// each minute, so "5 min left" does not stay on screen after the deadline passed.
// A hidden tab skips the timer and catches up as soon as it is shown again.
const running = (sla) => (sla?.clocks || []).some((c) => c.met === null && !c.paused);
function refreshRunningClocks() {
  if (document.hidden) return;
  if (state.list.items.some((c) => running(c.sla))) refreshList(); // one list load at a time, as for events
  const id = shownId();
  if (id && running(state.ticket.card.conversation.sla)) refreshCard(id).catch(() => {});
}
document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshRunningClocks(); });

let signedOutHandler = () => {};
export function onSignedOut(handler) { signedOutHandler = handler; }
export function signedOut() {
  live.stop();
  clearInterval(countsTimer);
  signedOutHandler();
}
