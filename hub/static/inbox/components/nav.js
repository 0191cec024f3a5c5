// Left column: who is signed in, language, views with their counts, filters.
import { api } from "../lib/api.js";
import { html } from "../lib/html.js";
import { channelLabel, currentLanguage, formatCount, languages, setLanguage, t } from "../lib/i18n.js";
import { failed, rereadInLanguage, setFilter, setView, signedOut } from "../lib/inbox.js";
import { setPresence } from "../lib/presence.js";
import { update, useStore } from "../lib/store.js";
import { HotlineButtons } from "./hotline.js";
import { ComplaintsButton } from "./complaints.js";
import { DisputesButton } from "./disputes.js";
import { PRIORITIES, VIEWS } from "../lib/views.js";
import { categoryOptions, teamOptions } from "../lib/desk.js";
import { DraftInput } from "./draft-input.js";


// The filter chosen stays listed, even when its channel is no longer configured.
function withChosen(values, chosen) { return !chosen || values.includes(chosen) ? values : [...values, chosen]; }

async function changeLanguage(language) {
  try {
    const agent = await api("PATCH", "/me", { language });
    await setLanguage(agent.language || "");
    // The last notice was said in the old language: gone, rather than left untranslated.
    update((s) => ({ me: { ...s.me, language: agent.language }, notice: null }));
    rereadInLanguage();
  } catch (e) { failed(e); }
}

async function signOut() {
  try { await api("POST", "/auth/logout"); } finally { signedOut(); }
}

function Filter({ name, label, children }) {
  const s = useStore();
  return html`<label class="field">${label}
    ${children
      ? html`<select id="filter-${name}" value=${s.filters[name]} onChange=${(e) => setFilter(name, e.target.value)}>${children}</select>`
      : html`<${DraftInput} id="filter-${name}" value=${s.filters[name]} onCommit=${(v) => setFilter(name, v)} />`}
  </label>`;
}

export function Nav() {
  const s = useStore();
  return html`<nav class="views" aria-label=${t("nav.label")}>
    <div class="me">
      <span id="me-name">${s.me.name || s.me.email}</span>
      <button type="button" id="open-password" class="link" onClick=${() => update({ dialog: "password" })}>${t("nav.password")}</button>
      <button type="button" id="logout" class="link" onClick=${signOut}>${t("nav.sign_out")}</button>
    </div>
    <label class="field">${t("presence.label")}
      <select id="presence" value=${s.myStatus} onChange=${(e) => setPresence(e.target.value).catch(failed)}>
        ${["online", "away", "offline"].map((p) => html`<option value=${p}>${t(`presence.${p}`)}</option>`)}
      </select>
    </label>
    <label class="field">${t("nav.language")}
      <select id="language" value=${currentLanguage()} onChange=${(e) => changeLanguage(e.target.value)}>
        ${languages().map((code) => html`<option value=${code}>${t(`language.${code}`)}</option>`)}
      </select>
    </label>
    <${HotlineButtons} />
    ${s.connection !== "open" ? html`<p class="offline" role="status">${t("nav.reconnecting")}</p>` : null}
    <ul id="view-list">
      ${VIEWS.map(([key]) => html`<li><button type="button" data-view=${key} class=${key === s.view ? "active" : ""} aria-current=${key === s.view ? "page" : null} onClick=${() => setView(key)}>
        <span>${t(`view.${key}`)}</span><span class="count">${s.counts[key] == null ? "" : formatCount(s.counts[key])}</span></button></li>`)}
    </ul>
    <div class="filters" role="search">
      <label class="field">${t("filter.search")}
        <${DraftInput} id="search" type="search" value=${s.filters.q} placeholder=${t("filter.search_hint")} onCommit=${(v) => setFilter("q", v)} /></label>
      <${Filter} name="channel" label=${t("filter.channel")}>
        <option value="">${t("filter.any_channel")}</option>${withChosen(s.channels, s.filters.channel).map((c) => html`<option value=${c}>${channelLabel(c)}</option>`)}<//>
      <${Filter} name="priority" label=${t("filter.priority")}>
        <option value="">${t("filter.any_priority")}</option>${PRIORITIES.map((p) => html`<option value=${p}>${t(`priority.${p}`)}</option>`)}<//>
      <${Filter} name="team" label=${t("filter.team")}>
        <option value="">${t("filter.any_team")}</option>${teamOptions().map(([id, label]) => html`<option value=${id}>${label}</option>`)}<//>
      <${Filter} name="category" label=${t("filter.category")}>
        <option value="">${t("filter.any_category")}</option>${categoryOptions().map(([id, label]) => html`<option value=${id}>${label}</option>`)}<//>
      <${Filter} name="tag" label=${t("filter.tag")} />
    </div>
    <button type="button" class="link" onClick=${() => update({ dialog: "shortcuts" })}>${t("keys.title")} (?)</button>
    <button type="button" id="open-roster" class="link" onClick=${() => update({ dialog: "roster" })}>${t("nav.roster")}</button>
    <${ComplaintsButton} />
    <button type="button" id="open-knowledge" class="link" onClick=${() => update({ dialog: "knowledge" })}>${t("nav.knowledge")}</button>
    ${s.me.role === "admin" || s.me.role === "supervisor" ? html`<button type="button" id="open-board" class="link" onClick=${() => update({ dialog: "board" })}>${t("nav.board")}</button>` : null}
    ${s.me.role === "admin" || s.me.role === "supervisor" ? html`<button type="button" id="open-reports" class="link" onClick=${() => update({ dialog: "reports" })}>${t("nav.reports")}</button>` : null}
    <button type="button" id="open-quality" class="link" onClick=${() => update({ dialog: "quality" })}>${t("nav.quality")}</button>
    <${DisputesButton} />
    ${s.me.role === "admin" ? html`<button type="button" id="open-admin" class="link" onClick=${() => update({ dialog: "admin" })}>${t("nav.admin")}</button>` : null}
    ${s.me.role === "admin" ? html`<button type="button" id="open-webhooks" class="link" onClick=${() => update({ dialog: "webhooks" })}>${t("nav.webhooks")}</button>
      <button type="button" id="open-audit" class="link" onClick=${() => update({ dialog: "audit" })}>${t("nav.audit")}</button>` : null}
  </nav>`;
}
