// Admin: channels' state, agents (role and teams), teams and categories, team calendars, API tokens, canned responses, custom ticket fields.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { state, update } from "../lib/store.js";
import { Dialog } from "../components/dialog.js";
import { TeamCalendars } from "../components/team-calendar.js";
import { MIN_PASSWORD_CHARS } from "../components/password-dialog.js";

const ROLES = ["admin", "supervisor", "agent", "read-only"];
import { FieldAdmin } from "../components/field-admin.js";
import { CategoryAdmin, TeamAdmin } from "../components/desk-admin.js";
import { loadDesk, teamLabel } from "../lib/desk.js";

// A channel's state (starting, up, degraded) in the agent's language; a state this inbox
// does not know yet, as the hub says it.
function channelState(name) {
  const said = t(`admin.channel_state.${name}`);
  return said === `admin.channel_state.${name}` ? name : said;
}

function agentName(id) { const a = state.agents.find((x) => x.id === id); return a ? a.name || a.email : id; }

// An admin sets another agent's password (a forgotten one): the hub ends that agent's sessions.
// Their own is changed with the current one ("Change password" under their name).
function SetPassword({ agent }) {
  const [open, setOpen] = useState(false);
  const name = agent.name || agent.email;
  async function submit(event) {
    event.preventDefault();
    const field = event.target.elements.new_password;
    try {
      await api("POST", `/agents/${agent.id}/password`, { new_password: field.value });
      setOpen(false);
      notify(t("admin.password_set", { name }));
    } catch (e) { failed(e); }
  }
  if (!open) return html`<button type="button" class="link set-password" onClick=${() => setOpen(true)}>${t("admin.set_password")}</button>`;
  return html`<form class="row agent-password" onSubmit=${submit}>
    <label>${t("admin.new_password", { name })} <input name="new_password" type="password" autocomplete="new-password" minlength=${MIN_PASSWORD_CHARS} required autofocus /></label>
    <button type="submit">${t("admin.save")}</button></form>`;
}

// A token's end as the list says it: when it ends, or that it has (nothing: it lasts until revoked).
function tokenEnd(token) {
  if (!token.expires_at) return "";
  return new Date(token.expires_at) <= new Date() ? t("admin.token_expired") : t("admin.token_expires", { when: formatFull(token.expires_at) });
}

export function Admin() {
  const [tokens, setTokens] = useState([]);
  const [channels, setChannels] = useState({});
  const [newToken, setNewToken] = useState("");
  const [, setTick] = useState(0);
  async function reload() {
    try {
      const [agents, canned, tokenList] = await Promise.all([api("GET", "/agents"), api("GET", "/canned"), api("GET", "/tokens"), loadDesk()]);
      update({ agents: agents.items, canned: canned.items });
      setTokens(tokenList.items);
      // /healthz says which channels are up or degraded (a provider down at start), and why
      const health = await fetch("/healthz", { credentials: "same-origin" }).then((r) => r.json()).catch(() => ({}));
      setChannels(health.channels || {});
      setTick((n) => n + 1);
    } catch (e) { failed(e); }
  }
  useEffect(() => { reload(); }, []);
  const form = (handler) => async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    try { await handler(data); event.target.reset(); reload(); } catch (e) { failed(e); }
  };
  const act = (fn) => async () => { try { await fn(); reload(); } catch (e) { failed(e); } };
  return html`<${Dialog} id="admin" title=${t("admin.title")} wide=${true}>
    <h3>${t("admin.channels")}</h3>
    <ul id="channel-status">${Object.entries(channels).map(([name, c]) => html`<li data-channel=${name}>
      <strong>${name}</strong> <span class="state" data-state=${c.state}>${channelState(c.state)}</span>${c.reason ? html` — <span class="reason">${c.reason}</span>` : null}</li>`)}</ul>
    <h3>${t("admin.agents")}</h3>
    <ul id="agents">${state.agents.map((a) => html`<li data-agent=${a.id}>${a.name || ""} ${`<${a.email}>`}${a.active ? "" : ` (${t("admin.disabled")})`}
      ${a.id === state.me.id ? t(`role.${a.role}`) : html` <label>${t("admin.role")} <select class="agent-role" value=${a.role} onChange=${(e) => act(() => api("PATCH", `/agents/${a.id}`, { role: e.target.value }))()}>
        ${ROLES.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select></label>
        <button type="button" class="link" onClick=${act(() => api("PATCH", `/agents/${a.id}`, { active: !a.active }))}>${a.active ? t("admin.disable") : t("admin.enable")}</button>${" "}<${SetPassword} agent=${a} />`}
      <fieldset class="agent-teams row"><legend>${t("admin.member_of", { name: a.name || a.email })}</legend>
        ${state.teams.map((team) => html`<label><input type="checkbox" name="team" value=${team.id} checked=${(a.teams || []).includes(team.id)}
          onChange=${(e) => act(() => api("PATCH", `/agents/${a.id}`, { teams: e.target.checked ? [...(a.teams || []), team.id] : (a.teams || []).filter((x) => x !== team.id) }))()} /> ${teamLabel(team.id)}</label>`)}
      </fieldset></li>`)}</ul>
    <form id="agent-form" class="row" onSubmit=${form((d) => api("POST", "/agents", d))}>
      <label>${t("admin.email")} <input name="email" type="email" required /></label>
      <label>${t("admin.name")} <input name="name" /></label>
      <label>${t("admin.role")} <select name="role">${["agent", "supervisor", "read-only", "admin"].map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select></label>
      <label>${t("admin.password")} <input name="password" type="password" minlength=${MIN_PASSWORD_CHARS} required /></label>
      <button type="submit">${t("admin.add")}</button>
    </form>
    <${TeamAdmin} onChanged=${reload} />
    <${CategoryAdmin} />
    <h3>${t("admin.tokens")}</h3>
    <ul id="tokens">${tokens.map((tk) => html`<li>${tk.name} (${agentName(tk.agent_id)}${tk.role ? `, ${t(`role.${tk.role}`)}` : ""}${tk.teams ? `, ${tk.teams.map(teamLabel).join(", ")}` : ""}) ${tk.revoked_at ? t("admin.revoked") : tokenEnd(tk)}
      ${tk.revoked_at ? null : html` <button type="button" class="link" onClick=${act(() => api("DELETE", `/tokens/${tk.id}`))}>${t("admin.revoke")}</button>`}</li>`)}</ul>
    <form id="token-form" class="row" onSubmit=${form(async ({ role, expires_in_days: days, ...d }) => { const made = await api("POST", "/tokens", { ...d, ...(role ? { role } : {}), ...(days ? { expires_in_days: Number(days) } : {}) }); setNewToken(made.token); })}>
      <label>${t("admin.token_name")} <input name="name" required /></label>
      <label>${t("admin.token_days")} <input name="expires_in_days" type="number" min="1" max="3650" placeholder=${t("admin.token_days_never")} /></label>
      <label>${t("admin.token_role")} <select name="role"><option value="">${t("admin.token_role_own")}</option>${["supervisor", "agent", "read-only"].map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select></label>
      <button type="submit">${t("admin.create")}</button>
    </form>
    ${newToken ? html`<p id="new-token" class="token" role="status">${t("admin.token_once")} <code>${newToken}</code></p>` : null}
    <h3>${t("admin.canned")}</h3>
    <ul id="canned-list">${state.canned.map((x) => html`<li>/${x.shortcut} — ${x.title}
      <button type="button" class="link" onClick=${act(() => api("DELETE", `/canned/${x.id}`))}>${t("admin.delete")}</button></li>`)}</ul>
    <form id="canned-form" class="row" onSubmit=${form((d) => api("POST", "/canned", d))}>
      <label>${t("admin.shortcut")} <input name="shortcut" required /></label>
      <label>${t("admin.canned_title")} <input name="title" required /></label>
      <label>${t("admin.canned_text")} <input name="text" required /></label>
      <button type="submit">${t("admin.add")}</button>
    </form>
    <${TeamCalendars} />
    <${FieldAdmin} />
  <//>`;
}
