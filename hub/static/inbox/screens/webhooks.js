// Admin: outbound webhook subscriptions (URL, events, private notes) and each one's delivery
// log. A new subscription's signing secret is shown once, as API tokens are.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { Dialog } from "../components/dialog.js";

export const WEBHOOK_EVENTS = ["ticket.created", "ticket.updated", "message.created", "record.*"];

function Deliveries({ hook }) {
  const [items, setItems] = useState([]);
  const [page, setPage] = useState({ page: 1, has_more: false });
  async function load(n = 1) {
    try {
      const got = await api("GET", `/webhooks/${hook.id}/deliveries?page=${n}&per_page=20`);
      setItems(got.items);
      setPage({ page: got.page, has_more: got.has_more });
    } catch (e) { failed(e); }
  }
  useEffect(() => { load(); }, [hook.id]);
  const retry = (d) => async () => { try { await api("POST", `/webhooks/${hook.id}/deliveries/${d.id}/retry`); load(page.page); } catch (e) { failed(e); } };
  return html`<div class="deliveries" data-webhook=${hook.id}>
    ${items.length === 0 ? html`<p class="hint">${t("webhooks.no_deliveries")}</p>` : html`<table class="log">
      <thead><tr><th>${t("webhooks.time")}</th><th>${t("webhooks.event")}</th><th>${t("webhooks.status")}</th><th>${t("webhooks.code")}</th><th>${t("webhooks.attempts")}</th><th>${t("webhooks.last_error")}</th><th></th></tr></thead>
      <tbody>${items.map((d) => html`<tr data-status=${d.status}>
        <td>${formatFull(d.created_at)}</td><td>${d.event_type}</td><td>${t(`webhooks.state.${d.status}`)}</td>
        <td>${d.response_code ?? ""}</td><td>${d.attempts}</td><td>${d.last_error || ""}</td>
        <td>${d.status === "failed" ? html`<button type="button" class="link" onClick=${retry(d)}>${t("webhooks.retry")}</button>` : null}</td></tr>`)}</tbody></table>`}
    <p class="pager">
      ${page.page > 1 ? html`<button type="button" class="link" onClick=${() => load(page.page - 1)}>${t("pager.newer")}</button>` : null}
      <button type="button" class="link" onClick=${() => load(page.page)}>${t("webhooks.refresh")}</button>
      ${page.has_more ? html`<button type="button" class="link" onClick=${() => load(page.page + 1)}>${t("pager.older")}</button>` : null}
    </p>
  </div>`;
}

export function Webhooks() {
  const [hooks, setHooks] = useState([]);
  const [secret, setSecret] = useState(null);
  const [open, setOpen] = useState("");
  async function reload() {
    try { setHooks((await api("GET", "/webhooks")).items); } catch (e) { failed(e); }
  }
  useEffect(() => { reload(); }, []);
  const act = (fn) => async () => { try { await fn(); reload(); } catch (e) { failed(e); } };
  async function add(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = {
      url: form.get("url"),
      events: form.getAll("events"),
      include_private: form.get("include_private") === "on",
      description: form.get("description") || "",
    };
    try {
      const made = await api("POST", "/webhooks", body);
      setSecret({ id: made.id, value: made.secret });
      event.target.reset();
      reload();
    } catch (e) { failed(e); }
  }
  const rotate = (hook) => act(async () => { const made = await api("POST", `/webhooks/${hook.id}/secret`); setSecret({ id: hook.id, value: made.secret }); });
  return html`<${Dialog} id="webhooks" title=${t("webhooks.title")} wide=${true}>
    <p class="hint">${t("webhooks.intro")}</p>
    <ul id="webhook-list">${hooks.map((hook) => html`<li data-id=${hook.id}>
      <strong class="url">${hook.url}</strong> ${hook.description ? html`— ${hook.description}` : null}
      <span class="events">${hook.events.join(", ")}</span>
      ${hook.include_private ? html` <span class="tag">${t("webhooks.with_private")}</span>` : null}
      ${hook.active ? null : html` <span class="tag">${t("webhooks.paused")}</span>`}
      <button type="button" class="link" onClick=${act(() => api("PATCH", `/webhooks/${hook.id}`, { active: !hook.active }))}>${hook.active ? t("webhooks.pause") : t("webhooks.resume")}</button>
      <button type="button" class="link" onClick=${rotate(hook)}>${t("webhooks.rotate")}</button>
      <button type="button" class="link show-log" onClick=${() => setOpen(open === hook.id ? "" : hook.id)}>${t("webhooks.log")}</button>
      <button type="button" class="link" onClick=${act(() => confirm(t("webhooks.delete_confirm")) && api("DELETE", `/webhooks/${hook.id}`))}>${t("admin.delete")}</button>
      ${secret?.id === hook.id ? html`<p class="token new-secret" role="status">${t("webhooks.secret_once")} <code>${secret.value}</code></p>` : null}
      ${open === hook.id ? html`<${Deliveries} hook=${hook} />` : null}
    </li>`)}</ul>
    <form id="webhook-form" onSubmit=${add}>
      <label>${t("webhooks.url")} <input name="url" type="url" placeholder="https://" required /></label>
      <fieldset><legend>${t("webhooks.events")}</legend>
        ${WEBHOOK_EVENTS.map((name) => html`<label><input type="checkbox" name="events" value=${name} defaultChecked=${name.startsWith("ticket.")} /> ${t(`webhooks.event.${name}`)}</label>`)}
      </fieldset>
      <label><input type="checkbox" name="include_private" /> ${t("webhooks.include_private")}</label>
      <label>${t("webhooks.description")} <input name="description" maxlength="200" /></label>
      <button type="submit">${t("admin.add")}</button>
    </form>
  <//>`;
}
