// Admin: the audit log — who did what, when, with the values before and after; filtered by
// agent, action, target and period, newest first, a page at a time.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { useStore } from "../lib/store.js";
import { Dialog } from "../components/dialog.js";
import { DraftInput } from "../components/draft-input.js";

const PER_PAGE = 50;

// A day picked in the agent's calendar as the start of that day in their zone, for the API.
function dayStart(value, plusDays = 0) {
  if (!value) return "";
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

function shown(value) {
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function Changes({ entry }) {
  const keys = [...new Set([...Object.keys(entry.before), ...Object.keys(entry.after)])];
  if (!keys.length) return null;
  return html`<ul class="changes">${keys.map((key) => html`<li><span class="key">${key}</span>: <span class="before">${shown(entry.before[key])}</span> → <span class="after">${shown(entry.after[key])}</span></li>`)}</ul>`;
}

function actionName(action) {
  const said = t(`audit.action.${action}`);
  return said === `audit.action.${action}` ? action : said;
}

// A ticket by its number, as agents know it (the id is in the tooltip); anything else by type and id.
function Target({ target }) {
  if (target.type === "ticket" && target.number != null) return html`<span class="ticket" title=${target.id}>${t("audit.ticket", { number: target.number })}</span>`;
  return html`${target.type} <code>${target.id}</code>`;
}

export function Audit() {
  const s = useStore();
  const [filters, setFilters] = useState({ actor: "", action: "", target: "", since: "", until: "" });
  const [result, setResult] = useState({ items: [], page: 1, has_more: false });
  async function load(page = 1, wanted = filters) {
    const query = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    if (wanted.actor) query.set("actor", wanted.actor);
    if (wanted.action) query.set("action", wanted.action);
    if (wanted.target.trim()) query.set("target", wanted.target.trim());
    if (wanted.since) query.set("since", dayStart(wanted.since));
    if (wanted.until) query.set("until", dayStart(wanted.until, 1)); // the whole last day
    try { setResult(await api("GET", `/audit?${query}`)); } catch (e) { failed(e); }
  }
  useEffect(() => { load(); }, []);
  const setValue = (name, value) => { const next = { ...filters, [name]: value }; setFilters(next); load(1, next); };
  const set = (name) => (event) => setValue(name, event.target.value);
  return html`<${Dialog} id="audit" title=${t("audit.title")} wide=${true}>
    <div class="row filters" role="search">
      <label>${t("audit.actor")} <select id="audit-actor" value=${filters.actor} onChange=${set("actor")}>
        <option value="">${t("audit.anyone")}</option>${s.agents.map((a) => html`<option value=${a.id}>${a.name || a.email}</option>`)}</select></label>
      <label>${t("audit.action")} <select id="audit-action" value=${filters.action} onChange=${set("action")}>
        <option value="">${t("audit.any_action")}</option>
        ${["ticket", "contact", "message", "record", "call", "callback", "agent", "token", "team", "category", "field", "calendar", "roster", "canned", "webhook", "kb", "auth"].map((family) => html`<option value=${`${family}.*`}>${t(`audit.family.${family}`)}</option>`)}</select></label>
      <label>${t("audit.target")} <${DraftInput} id="audit-target" value=${filters.target} onCommit=${(v) => setValue("target", v)} /></label>
      <label>${t("audit.since")} <input id="audit-since" type="date" value=${filters.since} onChange=${set("since")} /></label>
      <label>${t("audit.until")} <input id="audit-until" type="date" value=${filters.until} onChange=${set("until")} /></label>
    </div>
    ${result.items.length === 0 ? html`<p class="hint">${t("audit.empty")}</p>` : html`<table id="audit-log" class="log">
      <thead><tr><th>${t("audit.when")}</th><th>${t("audit.who")}</th><th>${t("audit.what")}</th><th>${t("audit.target")}</th><th>${t("audit.changes")}</th></tr></thead>
      <tbody>${result.items.map((e) => html`<tr data-action=${e.action}>
        <td>${formatFull(e.at)}</td>
        <td>${e.actor.name}${e.actor.via === "token" ? ` (${t("audit.via_token")})` : e.actor.via === "cli" ? ` (${t("audit.via_cli")})` : ""}</td>
        <td>${actionName(e.action)}</td><td><${Target} target=${e.target} /></td><td><${Changes} entry=${e} /></td></tr>`)}</tbody></table>`}
    <p class="pager">
      ${result.page > 1 ? html`<button type="button" class="link" onClick=${() => load(result.page - 1)}>${t("pager.newer")}</button>` : null}
      ${result.has_more ? html`<button type="button" class="link" onClick=${() => load(result.page + 1)}>${t("pager.older")}</button>` : null}
    </p>
  <//>`;
}
