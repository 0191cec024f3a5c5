// The thread: customer, agent and bot messages look different; notes and system events
// carry their time; edited messages say so and keep what they said before.
import { api, withConfirmation } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { channelLabel, eventText, formatFull, formatSize, formatTime, pluginName, t } from "../lib/i18n.js";
import { failed, openTicket } from "../lib/inbox.js";
import { canChangeTicket, state } from "../lib/store.js";
import { ICONS } from "../lib/views.js";

function author(m) {
  if (m.author_type === "contact") {
    // Someone else on the ticket (a Cc'd colleague, another member of a group chat): named, so
    // the agent never takes their words for the customer's. The customer is any identity or the
    // email of the ticket's contact (a second address of theirs, a chat visitor answering by mail).
    const card = state.ticket?.card;
    const theirs = new Set([card?.conversation.customer_address, card?.contact?.email, ...(card?.contact?.identities || []).map((i) => i.address)]);
    if (!m.from || !card || theirs.has(m.from)) return t("author.customer");
    const who = m.from_name && m.from_name !== m.from ? `${m.from_name}, ${m.from}` : m.from;
    return t("author.other_person", { who });
  }
  if (m.author_type === "agent") {
    const agent = state.agents.find((a) => a.id === m.author_id);
    return agent ? agent.name || agent.email : t("author.agent");
  }
  if (m.author_type === "bot") { // "FAQ 机器人" alone, not 机器人（FAQ 机器人） (a trial)
    const name = pluginName(m.author_id || "");
    return /机器人|bot\b/i.test(name) ? name : t("author.bot", { name });
  }
  return t("author.system");
}

async function openByNumber(number) {
  try { openTicket((await api("GET", `/conversations/by-number/${encodeURIComponent(number)}`)).id); } catch (e) { failed(e); }
}

async function moveMessage(conversationId, messageId) {
  const number = prompt(t("message.move_prompt"));
  if (!number) return;
  try {
    const target = await api("GET", `/conversations/by-number/${encodeURIComponent(number.replace("#", "").trim())}`);
    await withConfirmation("POST", `/messages/${messageId}/move`, { conversation_id: target.id });
    openTicket(conversationId);
  } catch (e) { failed(e); }
}

function MailBody({ body }) {
  const frame = useRef(null);
  // Sanitised by the channel, and sandboxed anyway (no scripts, no same origin). Remote
  // images stay blocked, so a sender cannot learn that the mail was read, until asked.
  const policy = (images) => `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:${images ? " https: http:" : ""}">`;
  useEffect(() => { frame.current.setAttribute("sandbox", ""); frame.current.srcdoc = policy(false) + body; }, [body]);
  return html`<iframe class="html" ref=${frame} sandbox="" referrerpolicy="no-referrer" title=${t("message.original_formatting")}></iframe>
    <button type="button" class="link" onClick=${(e) => { frame.current.srcdoc = policy(true) + body; e.target.remove(); }}>${t("message.load_images")}</button>`;
}

// The whole mail (quoted history included) when the thread shows only the new part.
function quoted(m) {
  return Boolean(m.full_text) && m.full_text.trim() !== (m.text || "").trim();
}

// A mail's flags (shortened, unreadable, ...) in words; one this inbox does not know, as it is.
function flagLabel(flag) {
  const label = t(`flag.${flag}`);
  return label === `flag.${flag}` ? flag : label;
}

// Why a reply was not delivered, in the agent's language when the hub names the cause by
// code (delivery.error.<code>); the channel's own words otherwise.
function deliveryError(delivery) {
  const key = `delivery.error.${delivery.error_code}`;
  return delivery.error_code && t(key) !== key ? t(key) : delivery.error;
}

// A long message shows its start and a button for the rest: a trial's 7,000-character mail
// pushed the reply box a long scroll down.
const LONG_TEXT = 1500;
const SHOWN_START = 1000;

function MessageText({ text }) {
  const [whole, setWhole] = useState(false);
  const chars = Array.from(text); // characters, not UTF-16 units: an emoji is one, and is never cut in half
  if (chars.length <= LONG_TEXT) return html`<div class="text">${text}</div>`;
  return html`<div class="text">${whole ? text : `${chars.slice(0, SHOWN_START).join("")}…`}</div>
    <button type="button" class="link show-all" aria-expanded=${whole ? "true" : "false"} onClick=${() => setWhole(!whole)}>
      ${whole ? t("message.show_less") : t("message.show_all", { count: chars.length })}</button>`;
}

function Message({ m, conversationId }) {
  const kind = m.kind === "message" ? m.direction : m.kind;
  if (m.kind === "event") {
    const source = m.event?.key === "event.merged_here" ? m.event.params?.source : null; // merged away: left the views
    return html`<div class="msg event" data-id=${m.id}><span>${eventText(m.event, m.text)}</span> <time datetime=${m.created_at} title=${formatFull(m.created_at)}>${formatTime(m.created_at)}</time>
      ${m.merged_from ? html` <span class="merged-from">${t("message.merged_from", { number: m.merged_from })}</span>` : null}
      ${source ? html` <button type="button" class="link merged-source" onClick=${() => openByNumber(source)}>${t("message.open_merged", { number: source })}</button>` : null}</div>`;
  }
  if (m.copy_of) { // the reply above, repeated by email to a visitor who left: one line, not a second bubble
    return html`<div class="msg copy ${kind}" data-id=${m.id} data-copy-of=${m.copy_of}>
      <span aria-hidden="true">${ICONS[m.channel] || ""}</span> ${t("message.copy", { channel: channelLabel(m.channel) })}
      ${m.delivery ? html` · <span class="delivery ${m.delivery.status}" title=${m.delivery.error ? deliveryError(m.delivery) : ""}>${t(`delivery.${m.delivery.status}`)}</span>` : null}</div>`;
  }
  return html`<article class="msg ${kind} by-${m.author_type}" data-id=${m.id} aria-label=${author(m)}>
    <div class="meta">
      <span aria-hidden="true">${ICONS[m.channel] || ""}</span>
      <span class="author">${author(m)}</span>
      <time datetime=${m.created_at} title=${formatFull(m.created_at)}>${formatTime(m.created_at)}</time>
      ${m.kind === "note" ? html`<span class="tag-note">${t("message.note")}</span>` : null}
      ${m.merged_from ? html`<span class="merged-from">${t("message.merged_from", { number: m.merged_from })}</span>` : null}
      ${m.deleted_at ? html`<span class="deleted">${t("message.deleted")}</span>` : null}
      ${m.delivery ? html`<span class="delivery ${m.delivery.status}" title=${m.delivery.error ? deliveryError(m.delivery) : ""}>${t(`delivery.${m.delivery.status}`)}</span>` : null}
      ${m.delivery?.status === "failed" && canChangeTicket() ? html`<button type="button" class="link" aria-describedby=${m.delivery.error ? `why-${m.id}` : null} onClick=${async () => { try { await api("POST", `/conversations/${conversationId}/messages/${m.id}/retry`); openTicket(conversationId); } catch (e) { failed(e); } }}>${t("message.retry")}</button>` : null}
      ${m.kind === "message" && canChangeTicket() ? html`<button type="button" class="link" title=${t("message.move_title")} onClick=${() => moveMessage(conversationId, m.id)}>${t("message.move")}</button>` : null}
    </div>
    <${MessageText} text=${m.text} />
    ${m.delivery?.status === "failed" && m.delivery.error ? html`<p class="delivery-error" id="why-${m.id}">${t("delivery.failed_reason", { reason: deliveryError(m.delivery) })}</p>` : null}
    ${m.flags?.length ? html`<div class="meta flags">${m.flags.map((f) => html`<span class="flag" data-flag=${f}>${flagLabel(f)}</span>`)}</div>` : null}
    ${quoted(m) ? html`<details class="quoted"><summary>${t("message.quoted")}</summary><pre>${m.full_text}</pre></details>` : null}
    ${m.html ? html`<${MailBody} body=${m.full_html || m.html} />` : null}
    ${m.attachments.map((file) => html`<div class="file"><a href=${file.url}>📄 ${file.name} (${formatSize(file.size)})</a></div>`)}
    ${m.choices.length ? html`<div class="meta">${t("message.choices", { choices: m.choices.map((c) => c.label).join(" / ") })}</div>` : null}
    ${m.edits?.length ? html`<details class="edits"><summary>${t("message.edited", { count: m.edits.length })}</summary>
      <ol>${m.edits.map((e) => html`<li><time datetime=${e.at}>${formatFull(e.at)}</time>: <span class="before">${e.previous_text}</span></li>`)}</ol></details>` : null}
  </article>`;
}

export function Thread({ messages, conversationId }) {
  const box = useRef(null);
  const stick = useRef(true);
  useEffect(() => { // keep to the bottom when new messages come, unless the agent scrolled up
    if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [messages.length]);
  const onScroll = () => { const b = box.current; stick.current = b.scrollHeight - b.scrollTop - b.clientHeight < 40; };
  return html`<div class="thread" ref=${box} onScroll=${onScroll} tabindex="0" role="log" aria-label=${t("thread.label")}>
    ${messages.map((m) => html`<${Message} key=${m.id} m=${m} conversationId=${conversationId} />`)}
  </div>`;
}
