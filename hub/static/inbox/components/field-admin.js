// Admin: the custom fields each category's tickets carry (labels in both languages,
// required before resolve). Choice options are typed as "id=中文/English, ..."; an order
// number takes its pattern, an amount its currencies ("CNY, USD") in the same box.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { pickLabel, t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { categoryOptions } from "../lib/desk.js";
import { useStore } from "../lib/store.js";

const TYPES = ["text", "number", "choice", "date", "order_number", "amount"];

function options(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [id, names = id] = part.split("=").map((x) => x.trim());
    const [zh, en = zh] = names.split("/").map((x) => x.trim());
    return { id, labels: { "zh-CN": zh, en } };
  });
}

function definitionBody(form) {
  const labels = {};
  if (form.label_zh.trim()) labels["zh-CN"] = form.label_zh.trim();
  if (form.label_en.trim()) labels.en = form.label_en.trim();
  const body = { key: form.key.trim(), type: form.type, labels, required: form.required === "on" };
  const extra = (form.extra || "").trim();
  if (form.type === "choice") body.options = options(extra);
  if (form.type === "order_number") body.pattern = extra;
  if (form.type === "amount" && extra) body.currencies = extra.split(",").map((c) => c.trim().toUpperCase()).filter(Boolean);
  return body;
}

export function FieldAdmin() {
  const [fields, setFields] = useState([]);
  const categories = useStore().categories; // a category the admin just added is listed too
  async function reload() {
    try {
      setFields((await api("GET", "/fields")).items);
    } catch (e) { failed(e); }
  }
  useEffect(() => { reload(); }, []);
  const categoryName = (id) => pickLabel(categories.find((c) => c.id === id)?.names) || id;
  async function add(event) {
    event.preventDefault();
    const form = Object.fromEntries(new FormData(event.target));
    try { await api("POST", `/categories/${encodeURIComponent(form.category)}/fields`, definitionBody(form)); event.target.reset(); reload(); } catch (e) { failed(e); }
  }
  async function remove(d) {
    try { await api("DELETE", `/categories/${encodeURIComponent(d.category_id)}/fields/${encodeURIComponent(d.key)}`); reload(); } catch (e) { failed(e); }
  }
  return html`<h3>${t("admin.fields")}</h3>
    <ul id="field-definitions">${fields.map((d) => html`<li data-key=${d.key}>${categoryName(d.category_id)}: <strong>${pickLabel(d.labels)}</strong>
      (<code>${d.key}</code>, ${t(`field_type.${d.type}`)}${d.required ? `, ${t("fields.required")}` : ""})
      <button type="button" class="link" onClick=${() => remove(d)}>${t("admin.delete")}</button></li>`)}</ul>
    <form id="field-form" class="row" onSubmit=${add}>
      <label>${t("admin.field_category")} <select name="category" required>${categoryOptions(categories).map(([id, label]) => html`<option value=${id}>${label}</option>`)}</select></label>
      <label>${t("admin.field_key")} <input name="key" required pattern="[a-z][a-z0-9_]*" size="10" /></label>
      <label>${t("admin.field_type")} <select name="type">${TYPES.map((type) => html`<option value=${type}>${t(`field_type.${type}`)}</option>`)}</select></label>
      <label>${t("admin.field_label_zh")} <input name="label_zh" /></label>
      <label>${t("admin.field_label_en")} <input name="label_en" /></label>
      <label>${t("admin.field_extra")} <input name="extra" /></label>
      <label><input type="checkbox" name="required" /> ${t("admin.field_required")}</label>
      <button type="submit">${t("admin.add")}</button>
    </form>`;
}
