// The ticket's custom fields, drawn from its category's definitions (the card's
// field_definitions): each is edited in place and saved when it changes; the hub checks the
// value (a refusal is said in the agent's language, see failed() in lib/inbox.js).
import { html } from "../lib/html.js";
import { pickLabel, t } from "../lib/i18n.js";
import { patchTicket } from "../lib/inbox.js";
import { SavedInput } from "./draft-input.js";

const INPUT_TYPES = { date: "date", number: "text", amount: "text" };

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
      <${SavedInput} id=${id} type="text" inputMode="decimal" value=${amount} onCommit=${(v) => save(v ? { amount: v, currency } : "")} />
      ${d.currencies.length > 1 ? html`<select id="${id}-currency" aria-label=${pickLabel(d.labels)} value=${currency}
          onChange=${(e) => amount && save({ amount, currency: e.target.value })}>
          ${d.currencies.map((code) => html`<option value=${code}>${code}</option>`)}</select>` : html`<span>${currency}</span>`}
    </span>`;
  }
  return html`<${SavedInput} id=${id} type=${INPUT_TYPES[d.type] || "text"} inputMode=${d.type === "number" ? "decimal" : undefined}
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
