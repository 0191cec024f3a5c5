// Who the customer is: identities per channel, claimed or verified email, language,
// their other tickets, and the agents' notes about them.
import { api, withConfirmation } from "../lib/api.js";
import { html, useState } from "../lib/html.js";
import { channelLabel, contactName, formatTime, t } from "../lib/i18n.js";
import { failed, notify, openTicket } from "../lib/inbox.js";
import { canChange } from "../lib/store.js";
import { ICONS } from "../lib/views.js";

async function samePerson(contact, conversationId) {
  const number = prompt(t("contact.same_person_prompt"));
  if (!number) return;
  try {
    const other = await api("GET", `/conversations/${(await api("GET", `/conversations/by-number/${encodeURIComponent(number.replace("#", "").trim())}`)).id}`);
    // Two emails or two accounts on one channel may be two people: the hub says so, the agent confirms.
    if (await withConfirmation("POST", `/contacts/${contact.id}/merge`, { into: other.contact.id })) openTicket(conversationId);
  } catch (e) { failed(e); }
}

function Notes({ contact }) {
  const [text, setText] = useState(contact.notes || "");
  const save = async () => {
    if (text === (contact.notes || "")) return;
    try { await api("PATCH", `/contacts/${contact.id}`, { notes: text }); contact.notes = text; notify(t("contact.notes_saved")); } catch (e) { failed(e); }
  };
  return html`<label class="field">${t("contact.notes")}
    <textarea id="contact-notes" rows="3" readonly=${!canChange()} value=${text} placeholder=${t("contact.notes_hint")} onInput=${(e) => setText(e.target.value)} onBlur=${save}></textarea></label>`;
}

export function ContactPanel({ card }) {
  const contact = card.contact;
  const c = card.conversation;
  if (!contact) return html`<section class="contact card"><h2>${t("author.customer")}</h2></section>`;
  return html`<section class="contact card" aria-labelledby="contact-title">
    <h2 id="contact-title">${contactName(contact.name, contact.anonymous) || contact.email || t("author.customer")}</h2>
    <dl class="facts">
      ${contact.email ? html`<dt>${t("contact.email")}</dt><dd class="email">${contact.email}
        ${contact.email_verified
          ? html` <span class="verified" title=${t("contact.verified_title")}>✓ ${t("contact.verified")}</span>`
          : html` <span class="unverified" title=${t("contact.unverified_title")}>${t("contact.unverified")}</span>`}</dd>` : null}
      <dt>${t("contact.language")}</dt><dd>${contact.language || t("contact.language_unknown")}</dd>
      ${contact.tier ? html`<dt>${t("contact.tier")}</dt><dd class="tier">${contact.tier}</dd>` : null}
    </dl>
    <h3>${t("contact.identities")}</h3>
    <ul class="identities">${contact.identities.map((i) => html`<li>
      <span role="img" aria-label=${channelLabel(i.channel)}>${ICONS[i.channel] || ""}</span> <strong>${channelLabel(i.channel)}</strong>:
      ${i.display_name ? html`${contactName(i.display_name, i.anonymous)} ` : null}${i.anonymous ? null : html`<code>${i.address}</code>`}
      ${i.verified ? html` <span class="verified">✓ ${t("contact.verified")}</span>` : html` <span class="unverified">${t("contact.claimed")}</span>`}</li>`)}</ul>
    <h3>${t("contact.previous")}</h3>
    ${card.other_conversations.length
      ? html`<ul class="previous">${card.other_conversations.map((o) => html`<li>
          <button type="button" class="link" onClick=${() => openTicket(o.id)}>#${o.number} ${o.subject}</button>
          <span class="badge">${t(`status.${o.status}`)}</span> <time datetime=${o.last_message_at}>${formatTime(o.last_message_at)}</time>
          ${o.preview ? html`<div class="preview">${o.preview.text}</div>` : null}</li>`)}</ul>`
      : html`<p class="hint">${t("contact.no_previous")}</p>`}
    <${Notes} contact=${contact} />
    ${canChange() ? html`<button type="button" class="link" title=${t("contact.same_person_title")} onClick=${() => samePerson(contact, c.id)}>${t("contact.same_person")}</button>` : null}
  </section>`;
}
