// The open ticket: its title and main actions, the thread, the composer.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { channelLabel, t } from "../lib/i18n.js";
import { openTicket, patchTicket } from "../lib/inbox.js";
import { canChange, update, useStore } from "../lib/store.js";
import { ICONS } from "../lib/views.js";
import { Composer } from "./composer.js";
import { SlaClocks } from "./sla.js";
import { Thread } from "./thread.js";

export function TicketPane() {
  const s = useStore();
  const { card, messages } = s.ticket;
  const c = card.conversation;
  const gone = Boolean(s.ticket.gone); // out of this agent's sight now (lib/inbox.js lostSight)
  const changing = canChange() && !c.merged_into && !gone;
  return html`<div class="ticket" data-id=${c.id} data-number=${c.number}>
    <header class="ticket-head">
      <${Title} conversation=${c} changing=${changing} />
      <div class="actions">
        ${changing && c.status !== "resolved" ? html`<button type="button" id="resolve" onClick=${() => patchTicket(c.id, { status: "resolved" })}>${t("ticket.resolve")} <kbd>e</kbd></button>` : null}
        ${changing ? html`<button type="button" id="merge" onClick=${() => update({ dialog: "merge" })}>${t("ticket.merge")}</button>` : null}
      </div>
      <${SlaClocks} sla=${c.sla} status=${c.status} />
      ${gone ? html`<p class="merged gone" role="alert">${t("ticket.gone")}</p>` : null}
      ${c.merged_into ? html`<p class="merged" role="status">${t("ticket.merged_into")} <button type="button" class="link" onClick=${() => openTicket(c.merged_into)}>${t("ticket.open_target")}</button></p>` : null}
    </header>
    <${Thread} messages=${messages} conversationId=${c.id} />
    ${changing ? html`<${Composer} conversation=${c} sendsFiles=${card.sends_files} takesReplies=${card.takes_replies !== false} />` : null}
  </div>`;
}

// The ticket's title; an agent who may change the ticket renames it in place (its mail
// replies take the new subject, whatever channel the ticket came from).
function Title({ conversation: c, changing }) {
  const [draft, setDraft] = useState(null); // the subject being written, null when not renaming
  const input = useRef(null);
  const pencil = useRef(null);
  const renaming = draft !== null && changing; // a ticket merged or gone meanwhile closes the form
  const wasRenaming = useRef(false);
  useEffect(() => {
    if (renaming) input.current?.focus();
    else if (wasRenaming.current) pencil.current?.focus(); // back where the agent was
    wasRenaming.current = renaming;
  }, [renaming]);
  const icon = html`<span role="img" aria-label=${channelLabel(c.channel)}>${ICONS[c.channel] || ""}</span>`;
  if (!renaming) {
    return html`<h2>${icon} #${c.number} <span class="subject">${c.subject}</span>
      ${changing ? html`<button type="button" class="link rename" id="rename" ref=${pencil} title=${t("ticket.rename")} aria-label=${t("ticket.rename")} onClick=${() => setDraft(c.subject)}>✎</button>` : null}</h2>`;
  }
  const save = async (event) => {
    event.preventDefault();
    if (draft.trim() === c.subject) { setDraft(null); return; } // nothing to change
    if (await patchTicket(c.id, { subject: draft })) setDraft(null);
  };
  const cancel = (event) => {
    // Escape also closes a Chinese input method's candidates: that one is not for us
    if (event.key !== "Escape" || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    setDraft(null);
  };
  return html`<form class="rename-form" onSubmit=${save} onKeyDown=${cancel}>
    ${icon} #${c.number}
    <input id="subject" ref=${input} aria-label=${t("ticket.subject")} value=${draft} maxlength="200" required onInput=${(e) => setDraft(e.target.value)} />
    <button type="submit">${t("ticket.rename_save")}</button>
    <button type="button" onClick=${() => setDraft(null)}>${t("ticket.rename_cancel")}</button>
  </form>`;
}
