// Admin: teams (departments) and the category tree — list, create, rename in both languages,
// delete. A team also says what its agents see; a category has its parent, default team and
// default priority. A delete the hub refuses (409: still in use) is said beside the row.
import { api } from "../lib/api.js";
import { html, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { categoryLabel, categoryOptions, categoryTree, loadDesk, teamLabel, teamOptions } from "../lib/desk.js";
import { useStore } from "../lib/store.js";
import { PRIORITIES } from "../lib/views.js";

const VISIBILITIES = ["assigned", "team", "all", "supervisors"];

function names(form) {
  return { "zh-CN": form.name_zh.trim(), en: form.name_en.trim() };
}

// What a category's form sends: an empty choice is "none" (null), not an id.
function categoryBody(form) {
  return {
    names: names(form),
    parent_id: form.parent_id || null,
    default_team: form.default_team || null,
    default_priority: form.default_priority || null,
  };
}

function NameInputs({ item }) {
  return html`<label>${t("admin.name_zh")} <input name="name_zh" required maxlength="100" size="10" defaultValue=${item?.names["zh-CN"] || ""} /></label>
    <label>${t("admin.name_en")} <input name="name_en" required maxlength="100" size="12" defaultValue=${item?.names.en || ""} /></label>`;
}

// Not bound to a value: what the admin picks stays picked while live updates redraw the screen.
function Choice({ name, label, value, options, none }) {
  return html`<label>${label} <select name=${name}>
    <option value="" selected=${!value}>${none}</option>${options.map(([id, text]) => html`<option value=${id} selected=${id === value}>${text}</option>`)}</select></label>`;
}

// A row's refusal (the hub's 409 "in use", or a name it would not take), shown until the next try.
function useRowErrors() {
  const [errors, setErrors] = useState({});
  const run = async (id, change) => {
    setErrors((e) => ({ ...e, [id]: null }));
    try { await change(); await loadDesk(); } catch (e) {
      if (e.status === 409 || e.status === 422 || e.status === 400) setErrors((x) => ({ ...x, [id]: e }));
      else failed(e);
    }
  };
  return [errors, run];
}

function RowError({ error, name }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.status === 409 ? t("admin.in_use", { name }) : t("admin.refused")}
    <span class="reason">${error.message}</span></p>`;
}

function submitted(event) {
  event.preventDefault();
  return Object.fromEntries(new FormData(event.target));
}

export function TeamAdmin({ onChanged }) {
  const s = useStore();
  const [errors, run] = useRowErrors();
  const change = (id, fn) => run(id, async () => { await fn(); onChanged?.(); });
  const create = (event) => {
    const form = submitted(event);
    change("", async () => { await api("POST", "/teams", { id: form.id.trim(), names: names(form) }); event.target.reset(); });
  };
  return html`<h3>${t("admin.teams")}</h3>
    <ul id="teams">${s.teams.map((team) => html`<li data-team=${team.id} key=${team.id}>
      <form class="team-edit row" onSubmit=${(e) => { const form = submitted(e); change(team.id, () => api("PATCH", `/teams/${team.id}`, { names: names(form) })); }}>
        <code>${team.id}</code> <${NameInputs} item=${team} />
        <label>${t("admin.visibility", { team: teamLabel(team.id) })}
          <select class="team-visibility" value=${team.visibility} onChange=${(e) => change(team.id, () => api("PATCH", `/teams/${team.id}`, { visibility: e.target.value }))}>
            ${VISIBILITIES.map((v) => html`<option value=${v}>${t(`visibility.${v}`)}</option>`)}</select></label>
        <button type="submit" class="save">${t("admin.save")}</button>
        <button type="button" class="link delete" onClick=${() => change(team.id, () => api("DELETE", `/teams/${team.id}`))}>${t("admin.delete")}</button>
      </form>
      <${RowError} error=${errors[team.id]} name=${teamLabel(team.id)} /></li>`)}</ul>
    <form id="team-form" class="row" onSubmit=${create}>
      <label>${t("admin.desk_id")} <input name="id" required size="12" /></label>
      <${NameInputs} />
      <button type="submit">${t("admin.add")}</button>
    </form>
    <${RowError} error=${errors[""]} name="" />`;
}

export function CategoryAdmin() {
  const s = useStore();
  const [errors, run] = useRowErrors();
  const priorities = PRIORITIES.map((p) => [p, t(`priority.${p}`)]);
  const tree = categoryOptions();
  // A category cannot sit under itself (the hub also refuses deeper cycles, said beside the row).
  const parents = (id) => tree.filter(([other]) => other !== id);
  const create = (event) => {
    const form = submitted(event);
    run("", async () => { await api("POST", "/categories", { id: form.id.trim(), ...categoryBody(form) }); event.target.reset(); });
  };
  const fields = (c) => html`<${NameInputs} item=${c} />
    <${Choice} name="parent_id" label=${t("admin.category_parent")} value=${c?.parent_id} options=${parents(c?.id)} none=${t("admin.category_top")} />
    <${Choice} name="default_team" label=${t("admin.category_team")} value=${c?.default_team} options=${teamOptions()} none=${t("admin.none")} />
    <${Choice} name="default_priority" label=${t("admin.category_priority")} value=${c?.default_priority} options=${priorities} none=${t("admin.none")} />`;
  return html`<h3>${t("admin.categories")}</h3>
    <ul id="categories">${categoryTree(s.categories).map(({ category: c, depth }) => html`<li data-category=${c.id} key=${c.id}
        data-depth=${depth} style=${`margin-left: ${depth * 1.5}em`}>
      <form class="category-edit row" onSubmit=${(e) => { const form = submitted(e); run(c.id, () => api("PATCH", `/categories/${c.id}`, categoryBody(form))); }}>
        <code>${c.id}</code> ${fields(c)}
        <button type="submit" class="save">${t("admin.save")}</button>
        <button type="button" class="link delete" onClick=${() => run(c.id, () => api("DELETE", `/categories/${c.id}`))}>${t("admin.delete")}</button>
      </form>
      <${RowError} error=${errors[c.id]} name=${categoryLabel(c.id)} /></li>`)}</ul>
    <form id="category-form" class="row" onSubmit=${create}>
      <label>${t("admin.desk_id")} <input name="id" required size="12" /></label>
      ${fields(null)}
      <button type="submit">${t("admin.add")}</button>
    </form>
    <${RowError} error=${errors[""]} name="" />`;
}
