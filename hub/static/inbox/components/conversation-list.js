// The conversation list: compact rows (preview, channel, waiting time, priority,
// assignee), ticks for bulk changes, a pager, and empty states that say why.
import { html } from "../lib/html.js";
import { channelLabel, contactName, formatCount, formatTime, formatWaiting, t } from "../lib/i18n.js";
import { bulkPatch, clearFilters, openTicket, setPage } from "../lib/inbox.js";
import { assignableAgents, canChange, state, update, useStore } from "../lib/store.js";
import { ICONS, PRIORITIES, SETTABLE_STATUSES } from "../lib/views.js";
import { categoryOptions } from "../lib/desk.js";
import { Avatar } from "./avatar.js";
import { SlaBadge } from "./sla.js";

const LONG_WAIT_MINUTES = 60;

function agentName(id) {
  const agent = state.agents.find((a) => a.id === id);
  return agent ? agent.name || agent.email : "";
}

// Since when the customer waits for an answer: the list says it (waiting_since, which counts a
// bot's "passing you on" as no answer); an open ticket only, whatever a change since kept.
function waitingSince(c) {
  return c.status === "open" ? c.waiting_since || null : null;
}

function toggle(id, on) {
  const selected = new Set(state.selected);
  if (on) selected.add(id); else selected.delete(id);
  update({ selected });
}

function Row({ c, active, focused, ticked }) {
  const waiting = waitingSince(c);
  const long = waiting && Date.now() - new Date(waiting).getTime() > LONG_WAIT_MINUTES * 60000;
  const who = contactName(c.contact_name, c.contact_anonymous) || `#${c.number}`;
  const preview = c.preview ? (c.preview.text || (c.preview.attachments ? t("list.attachment") : "")) : "";
  return html`<li data-id=${c.id} class="row ${c.unread ? "unread" : ""} ${active ? "active" : ""} ${focused ? "focused" : ""} prio-${c.priority}">
    ${canChange() ? html`<input type="checkbox" class="tick" checked=${ticked} aria-label=${t("list.select", { number: c.number })} onChange=${(e) => toggle(c.id, e.target.checked)} />` : null}
    <button type="button" class="open" aria-current=${active ? "true" : null} onClick=${() => openTicket(c.id)} onFocus=${() => state.focusedId !== c.id && update({ focusedId: c.id })}>
      <span class="line">
        <span class="chan" role="img" aria-label=${channelLabel(c.channel)} title=${channelLabel(c.channel)}>${ICONS[c.channel] || "•"}</span>
        ${c.unread ? html`<span class="dot" role="img" aria-label=${t("list.unread")}>●</span>` : null}
        <span class="who">${who}</span>
        ${c.priority === "urgent" || c.priority === "high" ? html`<span class="badge ${c.priority}">${t(`priority.${c.priority}`)}</span>` : null}
        ${c.status !== "open" ? html`<span class="badge">${t(`status.${c.status}`)}</span>` : null}
        <${SlaBadge} sla=${c.sla} status=${c.status} />
        ${waiting ? html`<span class="wait ${long ? "long" : ""}" title=${t("list.waiting_title")}>⏱ ${formatWaiting(waiting)}</span>` : html`<time class="when" datetime=${c.last_message_at}>${formatTime(c.last_message_at)}</time>`}
        ${c.assignee_id ? html`<${Avatar} id=${c.assignee_id} name=${agentName(c.assignee_id)} label=${t("list.assigned_to", { name: agentName(c.assignee_id) })} />` : null}
      </span>
      <span class="line second"><span class="subject">#${c.number} ${c.subject}</span>${preview ? html`<span class="preview"> — ${preview}</span>` : null}</span>
    </button>
  </li>`;
}

function EmptyState() {
  const s = state;
  const filtered = Object.values(s.filters).some((v) => v.trim());
  if (!s.list.loaded) return html`<p class="empty">${t("list.loading")}</p>`;
  if (s.filters.q.trim()) return html`<div class="empty"><p>${t("empty.search", { q: s.filters.q.trim() })}</p><button type="button" class="link" onClick=${clearFilters}>${t("empty.clear_filters")}</button></div>`;
  if (filtered) return html`<div class="empty"><p>${t("empty.filtered")}</p><button type="button" class="link" onClick=${clearFilters}>${t("empty.clear_filters")}</button></div>`;
  return html`<div class="empty"><p>${t(`empty.${s.view}.why`)}</p><p class="hint">${t(`empty.${s.view}.what`)}</p></div>`;
}

// Read when applied: re-renders keep the DOM.
const bulkValue = (id) => document.getElementById(id).value.trim();

// One menu of the bulk bar and its apply button, which wrap together (a trial's 应用 fell onto
// the next line alone); `patch` turns the chosen value into the change for every ticked row.
function BulkMenu({ name, label, options, patch }) {
  return html`<span class="pair">
    <label>${label} <select id="bulk-${name}">
      <option value="">—</option>${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select></label>
    <button type="button" id="bulk-${name}-apply" onClick=${() => { const v = bulkValue(`bulk-${name}`); if (v) bulkPatch(() => patch(v)); }}>${t("bulk.apply")}</button>
  </span>`;
}

function BulkBar() {
  const s = state;
  const count = s.selected.size;
  const agents = assignableAgents().map((a) => [a.id, a.id === s.me.id ? t("attr.me", { name: a.name || a.email }) : a.name || a.email]);
  return html`<form class="bulk" aria-label=${t("bulk.label")} onSubmit=${(e) => e.preventDefault()}>
    <strong>${t("bulk.selected", { count })}</strong>
    <${BulkMenu} name="assign" label=${t("bulk.assign")} options=${[["none", t("attr.unassigned")], ...agents]}
      patch=${(a) => ({ assignee_id: a === "none" ? null : a })} />
    <${BulkMenu} name="status" label=${t("bulk.status")} options=${SETTABLE_STATUSES.map((v) => [v, t(`status.${v}`)])}
      patch=${(status) => ({ status })} />
    <${BulkMenu} name="priority" label=${t("bulk.priority")} options=${PRIORITIES.map((v) => [v, t(`priority.${v}`)])}
      patch=${(priority) => ({ priority })} />
    <${BulkMenu} name="category" label=${t("bulk.category")} options=${categoryOptions()} patch=${(category) => ({ category })} />
    <span class="pair">
      <label>${t("bulk.tag")} <input id="bulk-tag" size="8" /></label>
      <button type="button" onClick=${() => { const tag = bulkValue("bulk-tag").toLowerCase(); if (tag) bulkPatch((row) => ({ tags: [...new Set([...row.tags, tag])] })); }}>${t("bulk.add_tag")}</button>
    </span>
    <button type="button" class="link" onClick=${() => update({ selected: new Set() })}>${t("bulk.clear")}</button>
  </form>`;
}

export function ConversationList() {
  const s = useStore();
  const items = s.list.items;
  const shown = s.ticket?.card.conversation.id;
  const pages = Math.max(1, Math.ceil(s.list.total / (s.list.per_page || s.perPage)));
  const allTicked = items.length > 0 && items.every((c) => s.selected.has(c.id));
  return html`
    <div class="list-head">
      ${canChange() ? html`<label class="all"><input type="checkbox" checked=${allTicked} disabled=${!items.length} onChange=${(e) => update({ selected: e.target.checked ? new Set(items.map((c) => c.id)) : new Set() })} /> ${t("list.select_all")}</label>` : null}
      <h1 class="view-title">${t(`view.${s.view}`)}</h1>
    </div>
    ${s.selected.size && canChange() ? html`<${BulkBar} />` : null}
    ${items.length
      ? html`<ol id="conversations" aria-label=${t("list.label")}>${items.map((c) => html`<${Row} key=${c.id} c=${c} active=${c.id === shown} focused=${c.id === s.focusedId} ticked=${s.selected.has(c.id)} />`)}</ol>`
      : html`<ol id="conversations" aria-label=${t("list.label")} class="none"></ol><${EmptyState} />`}
    <div class="pager">
      <button type="button" id="prev" aria-label=${t("list.previous_page")} disabled=${s.page <= 1} onClick=${() => setPage(s.page - 1)}>‹</button>
      <span id="page-info">${t("list.page", { count: s.list.total, page: s.page, pages, total: formatCount(s.list.total) + (s.list.total_is_lower_bound ? "+" : "") })}</span>
      <button type="button" id="next" aria-label=${t("list.next_page")} disabled=${s.page >= pages} onClick=${() => setPage(s.page + 1)}>›</button>
    </div>`;
}
