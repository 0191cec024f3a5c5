// The ticket's plugin records (a dispute, a callback...), drawn from each kind's JSON
// Schema: no per-plugin code. Labels come from the schema: `x-title-<language>` (e.g.
// `x-title-zh-CN`), then `title`, then the field's name; statuses from `x-statuses`
// ({ "open": { "title": "Open", "x-title-zh-CN": "处理中" } }) the same way. A kind its plugin
// manages (complaints) is left to that plugin's own panel, which keeps its rules.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { currentLanguage, formatFull, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { canChangeTicket, useStore } from "../lib/store.js";
import { SavedInput } from "./draft-input.js";
import { ZoneHint } from "./zone-hint.js";

export function label(schema, fallback) {
  if (!schema) return fallback;
  const lang = currentLanguage();
  return schema[`x-title-${lang}`] || schema[`x-title-${lang.split("-")[0]}`] || schema.title || fallback;
}

function statusLabel(kind, status) {
  return label((kind.schema["x-statuses"] || {})[status], status);
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// One input for one property of the schema; `onValue` gets a JSON value (null: cleared) and
// answers whether the hub took it. Text, numbers and dates keep the agent's typing through the
// redraws a save or a live update causes (SavedInput); a refused value stays, marked invalid.
function FieldInput({ id, name, schema, value, onValue }) {
  const title = label(schema, name);
  const [invalid, setInvalid] = useState(false);
  const commit = (v) => Promise.resolve(onValue(v)).then((ok) => setInvalid(ok === false));
  if (schema.type === "boolean") {
    return html`<label class="field checkbox"><input type="checkbox" id=${id} checked=${value === true}
      aria-invalid=${invalid} onChange=${(e) => commit(e.target.checked)} /> ${title}</label>`;
  }
  if (Array.isArray(schema.enum)) {
    return html`<label class="field">${title}<select id=${id} value=${value ?? ""} aria-invalid=${invalid} onChange=${(e) => commit(e.target.value === "" ? null : e.target.value)}>
      <option value="">—</option>
      ${schema.enum.map((v) => html`<option value=${v}>${label((schema["x-enum-titles"] || {})[v], String(v))}</option>`)}</select></label>`;
  }
  const numeric = schema.type === "integer" || schema.type === "number";
  const parse = (text) => {
    if (text === "") return null;
    return numeric ? Number(text) : text;
  };
  return html`<label class="field">${title}<${SavedInput} id=${id} type=${numeric ? "number" : schema.format === "date" ? "date" : "text"}
    step=${schema.type === "integer" ? "1" : "any"} value=${value == null ? "" : String(value)}
    onCommit=${async (typed) => (await onValue(parse(typed))) !== false} /></label>`;
}

function RecordForm({ kind, record, onSaved }) {
  const properties = kind.schema.properties || {};
  const path = `/records/${kind.plugin}/${kind.kind}/${record.id}`;
  const save = async (body) => {
    try { onSaved(await api("PATCH", path, body)); notify(t("records.saved")); return true; } catch (e) { failed(e); return false; }
  };
  const deadline = (text) => save({ deadline: text ? new Date(text).toISOString() : null });
  const last = record.timeline[record.timeline.length - 1];
  return html`<fieldset class="record" data-kind=${kind.kind} data-id=${record.id}>
    <legend>${label(kind.schema, kind.kind)}</legend>
    <label class="field">${t("records.status")}<select class="record-status" value=${record.status} onChange=${(e) => save({ status: e.target.value })}>
      ${kind.statuses.map((s) => html`<option value=${s}>${statusLabel(kind, s)}</option>`)}</select></label>
    ${Object.entries(properties).map(([name, schema]) => html`<${FieldInput} id=${`record-${record.id}-${name}`} name=${name} schema=${schema}
      value=${record.data[name]} onValue=${(v) => save({ data: { [name]: v } })} />`)}
    <label class="field">${t("records.deadline")}<${SavedInput} type="datetime-local" class="record-deadline" value=${localInput(record.deadline)}
      onCommit=${deadline} /><${ZoneHint} /></label>
    ${last ? html`<p class="hint">${t("records.changed", { who: last.who, time: formatFull(last.at) })}</p>` : null}
  </fieldset>`;
}

function NewRecord({ kind, conversationId, onSaved }) {
  const [data, setData] = useState({});
  const [open, setOpen] = useState(false);
  if (!open) return html`<button type="button" class="link add-record" data-kind=${kind.kind} onClick=${() => setOpen(true)}>${t("records.add", { kind: label(kind.schema, kind.kind) })}</button>`;
  const create = async () => {
    const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null));
    try {
      onSaved(await api("POST", `/records/${kind.plugin}/${kind.kind}`, { conversation_id: conversationId, data: clean }));
      setData({}); setOpen(false);
    } catch (e) { failed(e); }
  };
  return html`<fieldset class="record new-record" data-kind=${kind.kind}>
    <legend>${label(kind.schema, kind.kind)}</legend>
    ${Object.entries(kind.schema.properties || {}).map(([name, schema]) => html`<${FieldInput} id=${`new-${kind.kind}-${name}`} name=${name} schema=${schema}
      value=${data[name]} onValue=${(v) => setData((now) => ({ ...now, [name]: v }))} />`)}
    <button type="button" class="create-record" onClick=${create}>${t("records.create")}</button>
  </fieldset>`;
}

export function Records({ conversationId }) {
  const s = useStore();
  const [loaded, setLoaded] = useState(null);
  useEffect(() => {
    let current = true;
    api("GET", `/conversations/${conversationId}/records`).then((r) => { if (current) setLoaded(r); }).catch(() => {});
    return () => { current = false; };
  }, [conversationId, s.recordsChanged]);
  const kinds = loaded ? loaded.kinds.filter((k) => !k.managed) : [];
  if (!kinds.length) return null;
  // A saved record takes its place (the form the agent works in does not jump); a new one comes first.
  const replace = (record) => setLoaded((now) => ({
    ...now,
    items: now.items.some((r) => r.id === record.id) ? now.items.map((r) => (r.id === record.id ? record : r)) : [record, ...now.items],
  }));
  return html`<section class="records card" aria-labelledby="records-title">
    <h2 id="records-title">${t("records.title")}</h2>
    <fieldset class="plain" disabled=${!canChangeTicket()}>
    ${kinds.map((kind) => html`<div class="record-kind">
      ${loaded.items.filter((r) => r.plugin === kind.plugin && r.kind === kind.kind).map((record) => html`<${RecordForm} key=${record.id} kind=${kind} record=${record} onSaved=${replace} />`)}
      ${canChangeTicket() ? html`<${NewRecord} kind=${kind} conversationId=${conversationId} onSaved=${replace} />` : null}
    </div>`)}
    </fieldset>
  </section>`;
}
