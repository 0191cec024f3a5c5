// The hotline's dialogs: log a call (key c), schedule a callback from a ticket, and the
// callback tasks with their due times (mine or all; done or cancel).
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { categoryOptions } from "../lib/desk.js";
import { codeText, openTicket } from "../lib/inbox.js";
import {
  closeCallback, isoFromLocal, loadCallbacks, localInputValue, logCall, scheduleCallback, setCallbackScope,
} from "../lib/hotline.js";
import { api } from "../lib/api.js";
import { assignableAgents, canChange, state, update, useStore } from "../lib/store.js";
import { Dialog } from "./dialog.js";
import { ZoneHint } from "./zone-hint.js";

const OUTCOMES = ["follow_up", "resolved", "callback", "missed"];

function inAnHour() {
  const at = new Date(Date.now() + 3600000);
  at.setMinutes(Math.ceil(at.getMinutes() / 15) * 15, 0, 0);
  return localInputValue(at);
}


// Fields start with a default (defaultValue) and are then the agent's: a re-render of the
// form (its outcome changed, an error shown) never resets what was typed.

// Due time, owner and note: the same fields on the call form and on a ticket.
function CallbackFields({ prefix }) {
  return html`<div class="callback-fields">
    <label class="field">${t("callback.due_at")}
      <input type="datetime-local" id="${prefix}-due" name="due_at" required defaultValue=${inAnHour()} /><${ZoneHint} /></label>
    <label class="field">${t("callback.owner")}
      <select id="${prefix}-owner" name="owner_id">
        <option value="">${t("callback.nobody")}</option>
        ${assignableAgents().map((a) => html`<option value=${a.id} selected=${a.id === state.me.id}>${a.name || a.email}</option>`)}
      </select></label>
    <label class="field">${t("callback.note")}<input id="${prefix}-note" name="callback_note" maxlength="2000" /></label>
  </div>`;
}

function callbackBody(data) {
  const body = { due_at: isoFromLocal(data.due_at) || data.due_at };
  body.owner_id = data.owner_id || ""; // "" is the agent's choice of nobody (absent would mean them)
  if (data.callback_note?.trim()) body.note = data.callback_note.trim();
  return body;
}

export function CallDialog({ card }) {
  const ticket = card?.conversation;
  const [categories, setCategories] = useState([]);
  const [outcome, setOutcome] = useState("follow_up");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [startedAt] = useState(localInputValue(new Date()));
  useEffect(() => { api("GET", "/categories").then((r) => setCategories(r.items)).catch(() => {}); }, []);
  async function submit(event) {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    const body = { number: data.number, direction: data.direction, outcome };
    if (data.started_at && data.started_at !== startedAt) body.started_at = isoFromLocal(data.started_at) || data.started_at;
    if (data.duration) body.duration_seconds = Math.round(Number(data.duration) * 60);
    if (data.category) body.category = data.category;
    if (data.notes?.trim()) body.notes = data.notes.trim();
    if (data.on_ticket && ticket) body.conversation_id = ticket.id;
    if (outcome === "callback") body.callback = callbackBody(data);
    setBusy(true);
    setError("");
    try { await logCall(body); } catch (e) { setError(codeText(e)); } finally { setBusy(false); }
  }
  const phoneCaller = ticket?.channel === "phone" ? ticket.customer_address || "" : "";
  return html`<${Dialog} id="call-dialog" title=${t("call.title")}>
    <form id="call-form" class="call-form" onSubmit=${submit}>
      <label class="field">${t("call.number")}
        <input id="call-number" name="number" autofocus required maxlength="40" inputmode="tel" autocomplete="off"
          placeholder=${t("call.number_hint")} defaultValue=${phoneCaller} /></label>
      <fieldset class="direction"><legend>${t("call.direction")}</legend>
        <label><input type="radio" name="direction" value="in" checked /> ${t("call.direction.in")}</label>
        <label><input type="radio" name="direction" value="out" /> ${t("call.direction.out")}</label>
      </fieldset>
      <div class="pair">
        <label class="field">${t("call.started_at")}<input type="datetime-local" id="call-started" name="started_at" defaultValue=${startedAt} /><${ZoneHint} /></label>
        <label class="field">${t("call.duration")}<input type="number" id="call-duration" name="duration" min="0" max="1440" step="0.5" /></label>
      </div>
      <label class="field">${t("call.category")}
        <select id="call-category" name="category"><option value="">${t("call.no_category")}</option>
          ${categoryOptions(categories).map(([id, label]) => html`<option value=${id}>${label}</option>`)}</select></label>
      <label class="field">${t("call.notes")}<textarea id="call-notes" name="notes" rows="3" maxlength="5000"></textarea></label>
      <label class="field">${t("call.outcome")}
        <select id="call-outcome" name="outcome" value=${outcome} onChange=${(e) => setOutcome(e.target.value)}>
          ${OUTCOMES.map((o) => html`<option value=${o}>${t(`call.outcome.${o}`)}</option>`)}</select></label>
      ${outcome === "callback" ? html`<${CallbackFields} prefix="call-callback" />` : null}
      ${ticket ? html`<label class="check"><input type="checkbox" id="call-on-ticket" name="on_ticket" defaultChecked=${ticket.channel === "phone"} /> ${t("call.on_ticket", { number: ticket.number })}</label>` : null}
      ${error ? html`<p class="error" id="call-error" role="alert">${error}</p>` : null}
      <div class="row end"><button type="submit" id="call-save" disabled=${busy}>${t("call.save")}</button></div>
    </form>
  <//>`;
}

export function ScheduleCallbackDialog({ card }) {
  const ticket = card.conversation;
  const [error, setError] = useState("");
  async function submit(event) {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    const body = callbackBody(data);
    if (data.number?.trim()) body.number = data.number.trim();
    try { await scheduleCallback(ticket.id, body); } catch (e) { setError(codeText(e)); }
  }
  const caller = ticket.channel === "phone" ? ticket.customer_address || "" : "";
  return html`<${Dialog} id="schedule-callback" title=${t("callbacks.schedule")}>
    <form class="call-form" onSubmit=${submit}>
      <label class="field">${t("call.number")}
        <input id="schedule-number" name="number" autofocus maxlength="40" inputmode="tel" defaultValue=${caller} required=${!caller} /></label>
      <${CallbackFields} prefix="schedule" />
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="row end"><button type="submit" id="schedule-save">${t("callbacks.schedule")}</button></div>
    </form>
  <//>`;
}

export function CallbacksDialog() {
  const s = useStore();
  useEffect(() => { loadCallbacks().catch(() => {}); }, []);
  const now = Date.now();
  // The hub raised it (its clock decides), or its time has come by this browser's clock.
  const overdue = (c) => Boolean(c.raised_at) || new Date(c.due_at).getTime() <= now;
  const items = s.callbacks || [];
  const owner = (id) => { const a = s.agents.find((x) => x.id === id); return a ? a.name || a.email : t("callback.nobody"); };
  return html`<${Dialog} id="callbacks" title=${t("callbacks.title")} wide=${true}>
    <div class="row" role="group" aria-label=${t("callbacks.title")}>
      ${["me", "all"].map((scope) => html`<button type="button" id="callbacks-${scope}" aria-pressed=${(s.callbackScope || "me") === scope}
        onClick=${() => setCallbackScope(scope)}>${t(`callbacks.${scope === "me" ? "mine" : "all"}`)}</button>`)}
    </div>
    ${items.length ? html`<ul id="callback-list" class="callback-list">
      ${items.map((c) => html`<li data-id=${c.id} class=${overdue(c) ? "overdue" : ""}>
        <time datetime=${c.due_at}>${formatFull(c.due_at)}</time>
        ${overdue(c) ? html`<span class="badge">${t("callbacks.overdue")}</span>` : null}
        <span class="number">${c.number}</span>
        <button type="button" class="link" onClick=${() => { update({ dialog: null }); openTicket(c.conversation_id); }}>#${c.conversation_number}</button>
        <span class="who">${owner(c.owner_id)}</span>
        ${c.note ? html`<span class="note">${c.note}</span>` : null}
        <span class="actions" hidden=${!canChange()}>
          <button type="button" class="done" onClick=${() => closeCallback(c.id, "done")}>${t("callbacks.done")}</button>
          <button type="button" class="cancel" onClick=${() => closeCallback(c.id, "cancelled")}>${t("callbacks.cancel")}</button>
        </span>
      </li>`)}</ul>` : html`<p class="hint">${t("callbacks.none")}</p>`}
  <//>`;
}

// In the left column: log a call, and the agent's callbacks with how many are open.
export function HotlineButtons() {
  const s = useStore();
  useEffect(() => { loadCallbacks().catch(() => {}); }, []);
  return html`<div class="hotline">
    ${canChange() ? html`<button type="button" id="log-call" onClick=${() => update({ dialog: "call" })}>📞 ${t("call.log")} <kbd>c</kbd></button>` : null}
    <button type="button" id="open-callbacks" class="link" onClick=${() => update({ dialog: "callbacks" })}>
      ${t("callbacks.title")}${s.myCallbacks ? html` <span class="count">${s.myCallbacks}</span>` : null}</button>
  </div>`;
}

// In a ticket's sidebar.
export function TicketCallbackButton() {
  if (!canChange()) return null;
  return html`<button type="button" id="schedule-callback-open" class="link" onClick=${() => update({ dialog: "schedule-callback" })}>${t("callbacks.schedule")}</button>`;
}
