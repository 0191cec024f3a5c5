// The ticket's custom fields, drawn from its category's definitions (the card's
// field_definitions): each is edited in place and saved when it changes; the hub checks the
// value (a refusal is said in the agent's language, see failed() in lib/inbox.js).
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { pickLabel, t } from "../lib/i18n.js";
import { patchTicket } from "../lib/inbox.js";

const INPUT_TYPES = { date: "date", number: "text", amount: "text" };

// Takes fresh values from live updates, except while the agent is typing in it or a refused
// value waits to be corrected. What the agent typed stays shown while it is saved; a value the
// hub refuses stays too, marked invalid, so it can be corrected rather than typed again (a
// trial's "ab2024091" vanished with the refusal).
function Edited({ id, type, value, inputMode, onCommit }) {
  const [draft, setDraft] = useState(value);
  const [refused, setRefused] = useState(null); // the stored value when the hub refused the draft
  const editing = useRef(false);
  // A new stored value (another agent, a rule) replaces a refused draft: it is the news.
  useEffect(() => { if (refused !== null && value !== refused) setRefused(null); }, [value]);
  useEffect(() => { if (!editing.current && refused === null) setDraft(value); }, [value, refused]);
  const commit = async (typed) => {
    if (typed === value) { setRefused(null); return; }
    setRefused((await onCommit(typed)) ? null : value);
  };
  return html`<input id=${id} type=${type} inputmode=${inputMode} value=${draft} aria-invalid=${refused !== null ? "true" : null}
    onFocus=${() => { editing.current = true; }} onBlur=${() => { editing.current = false; }}
    onInput=${(e) => setDraft(e.target.value)} onChange=${(e) => commit(e.target.value.trim())} />`;
}

function FieldInput({ c, d }) {
  const id = `field-${d.key}`;
  const value = c.fields[d.key] || "";
  const save = (v) => patchTicket(c.id, { fields: { [d.key]: v === "" ? null : v } });
  if (d.type === "choice") {
    return html`<select id=${id} value=${value} onChange=${(e) => save(e.target.value)}>
      <option value="">${t("fields.none")}</option>
      ${d.options.map((o) => html`<option value=${o.id}>${pickLabel(o.labels)}</option>`)}</select>`;
  }
  if (d.type === "amount") {
    // Kept as text ("12.50 CNY"): the amount is sent as text, never as a float.
    const [amount, currency] = value ? value.split(" ") : ["", d.currencies[0]];
    return html`<span class="amount">
      <${Edited} id=${id} type="text" inputMode="decimal" value=${amount} onCommit=${(v) => save(v ? { amount: v, currency } : "")} />
      ${d.currencies.length > 1 ? html`<select id="${id}-currency" aria-label=${pickLabel(d.labels)} value=${currency}
          onChange=${(e) => amount && save({ amount, currency: e.target.value })}>
          ${d.currencies.map((code) => html`<option value=${code}>${code}</option>`)}</select>` : html`<span>${currency}</span>`}
    </span>`;
  }
  return html`<${Edited} id=${id} type=${INPUT_TYPES[d.type] || "text"} inputMode=${d.type === "number" ? "decimal" : undefined}
    value=${value} onCommit=${save} />`;
}

export function TicketFields({ card }) {
  const c = card.conversation;
  const definitions = card.field_definitions || [];
  if (!definitions.length) return null;
  return html`<fieldset class="ticket-fields" id="ticket-fields"><legend>${t("fields.title")}</legend>
    ${definitions.map((d) => html`<label class="field" key=${d.key} data-field=${d.key}>
      <span>${pickLabel(d.labels)}${d.required ? html` <abbr class="required" title=${t("fields.required")}>*</abbr>` : null}</span>
      <${FieldInput} c=${c} d=${d} /></label>`)}
  </fieldset>`;
}
