// The ticket's attributes as a labelled form: status, priority, category, team,
// assignee, tags, the category's custom fields, snooze. Each change goes to the ticket this
// sidebar was drawn for.
import { html, useEffect, useState } from "../lib/html.js";
import { currentLanguage, formatFull, t } from "../lib/i18n.js";
import { patchTicket, takeTicket } from "../lib/inbox.js";
import { HandOff } from "./handoff.js";
import { categoryOptions, teamOptions } from "../lib/desk.js";
import { assignableAgents, canChangeTicket, state, useStore } from "../lib/store.js";
import { PRIORITIES, SETTABLE_STATUSES, STATUSES } from "../lib/views.js";
import { TicketFields } from "./ticket-fields.js";
import { ZoneHint } from "./zone-hint.js";

// A text field that takes fresh values from live updates, except while the agent edits it.
function TextAttr({ id, label, value, onCommit, hint }) {
  const [draft, setDraft] = useState(value);
  const [editing, setEditing] = useState(false);
  useEffect(() => { if (!editing) setDraft(value); }, [value, editing]);
  return html`<label class="field">${label}
    <input id=${id} value=${draft} placeholder=${hint || ""} onFocus=${() => setEditing(true)}
      onInput=${(e) => setDraft(e.target.value)} onBlur=${() => setEditing(false)}
      onChange=${(e) => { setEditing(false); if (e.target.value.trim() !== value) onCommit(e.target.value.trim()); }} /></label>`;
}

function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function Snooze({ c }) {
  const tomorrow = new Date(Date.now() + 86400000);
  tomorrow.setHours(9, 0, 0, 0);
  const [until, setUntil] = useState(localInputValue(tomorrow));
  // The browser draws the picker in its own locale ("11/27/2026, 09:00 AM"): the time chosen is
  // also said in the inbox's language beneath it.
  const picked = new Date(until);
  const chosen = until && !Number.isNaN(picked.getTime()) ? picked.toISOString() : "";
  const snooze = () => { const at = new Date(until); if (!Number.isNaN(at.getTime())) patchTicket(c.id, { snoozed_until: at.toISOString() }); };
  return html`<div class="snooze">
    ${c.status === "snoozed" && c.snoozed_until ? html`<p class="snoozed-until">${t("attr.snoozed_until", { time: formatFull(c.snoozed_until) })}</p>` : null}
    <label class="field">${t("attr.snooze_until")}
      <input type="datetime-local" id="snooze-until" lang=${currentLanguage()} value=${until} onInput=${(e) => setUntil(e.target.value)} /><${ZoneHint} /></label>
    ${chosen ? html`<p class="snooze-preview" id="snooze-preview">${formatFull(chosen)}</p>` : null}
    <button type="button" id="snooze" onClick=${snooze}>${t("attr.snooze")}</button>
  </div>`;
}

// A ticket's value that is not (or no longer) in the list still shows, as its id.
function withCurrent(options, value) {
  return !value || options.some(([v]) => v === value) ? options : [...options, [value, value]];
}

export function Attributes({ card }) {
  const c = card.conversation;
  const me = useStore().me; // redrawn when the teams or categories arrive or change
  const select = (id, label, value, options, onChange) => html`<label class="field">${label}
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}</select></label>`;
  return html`<section class="attributes" aria-labelledby="attributes-title">
    <h2 id="attributes-title">${t("attr.title")}</h2>
    <fieldset class="plain" disabled=${!canChangeTicket()}>
    ${select("attr-status", t("attr.status"), c.status, (c.status === "snoozed" ? STATUSES : SETTABLE_STATUSES).map((v) => [v, t(`status.${v}`)]), (v) => patchTicket(c.id, { status: v }))}
    ${select("attr-priority", t("attr.priority"), c.priority, PRIORITIES.map((v) => [v, t(`priority.${v}`)]), (v) => patchTicket(c.id, { priority: v }))}
    <div class="assignee">
      ${select("attr-assignee", t("attr.assignee"), c.assignee_id || "", [["", t("attr.unassigned")], ...assignableAgents(c.assignee_id).map((a) => [a.id, a.id === me.id ? t("attr.me", { name: a.name || a.email }) : a.name || a.email])], (v) => patchTicket(c.id, { assignee_id: v || null }))}
      ${c.assignee_id !== me.id ? html`<button type="button" id="assign-me" class="link" onClick=${() => takeTicket(c.id)}>${t("attr.assign_me")} <kbd>a</kbd></button>` : null}
    </div>
    ${select("attr-team", t("attr.team"), c.team || "", [["", t("attr.no_team")], ...withCurrent(teamOptions(), c.team)], (v) => patchTicket(c.id, { team: v }))}
    <${HandOff} c=${c} />
    ${select("attr-category", t("attr.category"), c.category || "", [["", t("attr.no_category")], ...withCurrent(categoryOptions(), c.category)], (v) => patchTicket(c.id, { category: v }))}
    <${TextAttr} id="attr-tags" label=${t("attr.tags")} hint=${t("attr.tags_hint")} value=${c.tags.join(", ")} onCommit=${(v) => patchTicket(c.id, { tags: v.split(",").map((x) => x.trim()).filter(Boolean) })} />
    <${TicketFields} card=${card} />
    <${Snooze} c=${c} />
    </fieldset>
  </section>`;
}
