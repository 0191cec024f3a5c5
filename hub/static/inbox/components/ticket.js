// The open ticket: its title and main actions, the thread, the composer.
import { html } from "../lib/html.js";
import { t } from "../lib/i18n.js";
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
      <h2><span role="img" aria-label=${t(`channel.${c.channel}`)}>${ICONS[c.channel] || ""}</span> #${c.number} ${c.subject}</h2>
      <div class="actions">
        ${changing && c.status !== "resolved" ? html`<button type="button" id="resolve" onClick=${() => patchTicket(c.id, { status: "resolved" })}>${t("ticket.resolve")} <kbd>e</kbd></button>` : null}
        ${changing ? html`<button type="button" id="merge" onClick=${() => update({ dialog: "merge" })}>${t("ticket.merge")}</button>` : null}
      </div>
      <${SlaClocks} sla=${c.sla} />
      ${gone ? html`<p class="merged gone" role="alert">${t("ticket.gone")}</p>` : null}
      ${c.merged_into ? html`<p class="merged" role="status">${t("ticket.merged_into")} <button type="button" class="link" onClick=${() => openTicket(c.merged_into)}>${t("ticket.open_target")}</button></p>` : null}
    </header>
    <${Thread} messages=${messages} conversationId=${c.id} />
    ${changing ? html`<${Composer} conversation=${c} sendsFiles=${card.sends_files} takesReplies=${card.takes_replies !== false} />` : null}
  </div>`;
}
