// Hotline calls and callback tasks: logging a call, the callback list (mine or all) and
// the owner's notice when a task falls due, kept fresh by live events.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { failed, loadCounts, loadList, notify, onLiveEvent, openTicket } from "./inbox.js";
import { state, update } from "./store.js";

// A datetime-local field's value for a time (the agent's own zone).
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function isoFromLocal(value) {
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? "" : at.toISOString();
}

export async function loadCallbacks() {
  const scope = state.callbackScope === "all" ? "all" : "me";
  const [shown, mine] = await Promise.all([
    api("GET", `/callbacks?owner=${scope}`),
    scope === "me" ? null : api("GET", "/callbacks?owner=me"),
  ]);
  update({ callbacks: shown.items, myCallbacks: (mine || shown).items.length });
}

export function setCallbackScope(scope) {
  update({ callbackScope: scope });
  loadCallbacks().catch(failed);
}

export async function closeCallback(id, status) {
  try {
    await api("PATCH", `/callbacks/${encodeURIComponent(id)}`, { status });
    await loadCallbacks();
  } catch (e) { failed(e); }
}

// Errors are thrown to the form, which shows them beside its fields.
export async function logCall(body) {
  const logged = await api("POST", "/calls", body);
  update({ dialog: null });
  notify(t("call.logged", { number: logged.conversation.number }));
  openTicket(logged.conversation.id).catch(() => {});
  loadList().catch(() => {}); loadCounts(); // a new phone ticket is in the views at once
  if (logged.callback) loadCallbacks().catch(() => {});
  return logged;
}

export async function scheduleCallback(conversationId, body) {
  await api("POST", `/conversations/${encodeURIComponent(conversationId)}/callbacks`, body);
  update({ dialog: null });
  notify(t("callbacks.scheduled"));
  loadCallbacks().catch(() => {});
}

onLiveEvent((event) => {
  if (event.type === "resync" || event.type.startsWith("callback.")) loadCallbacks().catch(() => {});
  if (event.type === "callback.due" && event.owner_id === state.me?.id) {
    notify(t("callbacks.due_notice", { number: event.number || "" }), "error");
  }
});
