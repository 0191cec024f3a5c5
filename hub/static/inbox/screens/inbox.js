// The agents' main screen: views and filters, the conversation list, the open ticket.
// Later screens (knowledge base, roster, SLA, reports) sit beside it as their own modules.
import { Attributes } from "../components/attributes.js";
import { ContactPanel } from "../components/contact-panel.js";
import { Records } from "../components/records.js";
import { ComplaintPanel, ComplaintsDialog } from "../components/complaints.js";
import { Quality } from "../components/quality.js";
import { DisputeDialog, DisputesDialog, TicketDisputes } from "../components/disputes.js";
import { CallDialog, CallbacksDialog, ScheduleCallbackDialog, TicketCallbackButton } from "../components/hotline.js";
import { ConversationList } from "../components/conversation-list.js";
import { Suggestions } from "../components/suggestions.js";
import { MergeDialog } from "../components/merge-dialog.js";
import { PasswordDialog } from "../components/password-dialog.js";
import { Nav } from "../components/nav.js";
import { Shortcuts } from "../components/shortcuts.js";
import { TicketPane } from "../components/ticket.js";
import { html, useEffect } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { openTicket, patchTicket, shownId, takeTicket, whenListLoaded } from "../lib/inbox.js";
import { canChange, state, update, useStore } from "../lib/store.js";
import { Admin } from "./admin.js";
import { Audit } from "./audit.js";
import { Reports } from "./reports.js";
import { Board } from "./board.js";
import { Knowledge } from "./knowledge.js";
import { Webhooks } from "./webhooks.js";
import { Roster } from "./roster.js";
import { QualityScreen } from "./quality.js";

// Whether the screen is narrow enough for one pane at a time (as app.css's media query).
const narrow = () => window.matchMedia("(max-width: 900px)").matches;

function focusRow(id) {
  document.querySelector(`#conversations li[data-id="${CSS.escape(id)}"] .open`)?.focus();
}

function moveFocus(delta) {
  const items = state.list.items;
  if (!items.length) return;
  const at = items.findIndex((c) => c.id === state.focusedId);
  const next = items[Math.min(items.length - 1, Math.max(0, at < 0 ? 0 : at + delta))];
  update({ focusedId: next.id });
  focusRow(next.id);
}

function focusComposer(mode) {
  if (!shownId()) return;
  update({ composerMode: mode });
  document.getElementById("composer-text")?.focus();
}

// Single keys, as agents know them from Zendesk and Chatwoot; never while typing.
export function onShortcut(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || state.dialog) return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable=true]")) {
    const composing = event.isComposing || event.keyCode === 229; // an input method's candidates (pinyin)
    if (event.key === "Escape" && !composing) {
      // leaves the field; a search field's own Escape (the browser's) would empty it first, and
      // the list was back to every ticket under the keys (a trial resolved the wrong one)
      if (target.type === "search") event.preventDefault();
      target.blur();
    } else if (event.key === "ArrowDown" && target.id === "search" && !composing) {
      event.preventDefault(); // from the search to its results: those of what is typed there
      const typed = target.value.trim() !== state.filters.q.trim();
      // focused once drawn: a list that just arrived is rendered after this update
      const toFirst = () => { const first = state.list.items[0]; if (first) { update({ focusedId: first.id }); setTimeout(() => focusRow(first.id), 0); } };
      if (typed) { update({ focusedId: null }); whenListLoaded(toFirst); } // not the list shown before it (a review)
      target.blur(); // commits what is typed (its change event): the list loads again
      if (!typed) toFirst();
    }
    return;
  }
  const inList = !target.closest || target === document.body || target.closest("#conversations");
  const keys = {
    j: () => moveFocus(1), k: () => moveFocus(-1),
    ArrowDown: () => inList && moveFocus(1), ArrowUp: () => inList && moveFocus(-1),
    Enter: () => { if (target === document.body && state.focusedId) openTicket(state.focusedId); else return false; },
    r: () => focusComposer("reply"), n: () => focusComposer("note"),
    e: () => shownId() && patchTicket(shownId(), { status: "resolved" }),
    a: () => shownId() && takeTicket(shownId()),
    "/": () => document.getElementById("search")?.focus(),
    "?": () => update({ dialog: "shortcuts" }),
    Escape: () => {
      if (state.menuOpen || state.detailsOpen) update({ menuOpen: false, detailsOpen: false });
      else if (state.pane === "ticket" && narrow()) update({ pane: "list" });
      else return false;
    },
    c: () => update({ dialog: "call" }),
  };
  const changes = new Set(["r", "n", "e", "a", "c"]); // a read-only account's keys do nothing here
  const action = changes.has(event.key) && !canChange() ? null : keys[event.key];
  if (!action) return;
  if (action() === false) return;
  event.preventDefault();
}

// A phone's bar (shown on narrow screens only, app.css): the views menu, the way back from a
// ticket to the list, and the ticket's details (assignee, team, suggestions, the contact).
function NarrowBar({ pane, card }) {
  const s = useStore();
  return html`<div class="narrow-bar">
    <button type="button" id="narrow-menu" aria-expanded=${s.menuOpen ? "true" : "false"} onClick=${() => update({ menuOpen: !s.menuOpen, detailsOpen: false })}>☰ ${t("narrow.menu")}</button>
    ${pane === "ticket" ? html`<button type="button" id="narrow-back" onClick=${() => update({ pane: "list", detailsOpen: false })}>‹ ${t("narrow.back")}</button>` : null}
    ${pane === "ticket" && card ? html`<button type="button" id="narrow-details" aria-expanded=${s.detailsOpen ? "true" : "false"} onClick=${() => update({ detailsOpen: !s.detailsOpen, menuOpen: false })}>${t("narrow.details")}</button>` : null}
  </div>`;
}

export function Inbox() {
  const s = useStore();
  useEffect(() => {
    document.addEventListener("keydown", onShortcut);
    return () => document.removeEventListener("keydown", onShortcut);
  }, []);
  const card = s.ticket?.card;
  const pane = (card || s.loadingId) && s.pane === "ticket" ? "ticket" : "list";
  const classes = ["app", s.menuOpen ? "menu-open" : "", s.detailsOpen && card ? "details-open" : ""].join(" ").trim();
  return html`<div id="app" class=${classes} data-pane=${pane}>
    <a class="skip" href="#conversations">${t("a11y.skip_to_list")}</a>
    <${NarrowBar} pane=${pane} card=${card} />
    <${Nav} />
    <main class="list" aria-label=${t("list.label")}><${ConversationList} /></main>
    <section id="detail" class="detail" aria-label=${t("ticket.label")}>
      ${card
        ? html`<${TicketPane} key=${card.conversation.id} />
            <aside class="side" aria-label=${t("ticket.details")}><${Suggestions} key=${`s-${card.conversation.id}`} conversationId=${card.conversation.id} messages=${s.ticket.messages} /><${Attributes} key=${card.conversation.id} card=${card} /><${Records} key=${`r-${card.conversation.id}`} conversationId=${card.conversation.id} /><${ComplaintPanel} key=${`c-${card.conversation.id}`} conversationId=${card.conversation.id} /><${Quality} key=${`q-${card.conversation.id}`} conversationId=${card.conversation.id} /><${TicketDisputes} key=${`d-${card.conversation.id}`} conversationId=${card.conversation.id} /><${ContactPanel} key=${card.contact?.id} card=${card} /><${TicketCallbackButton} /></aside>`
        : html`<div class="empty-pane"><p>${s.loadingId ? t("ticket.loading") : t("ticket.none")}</p><p class="hint">${t("ticket.none_hint")}</p></div>`}
    </section>
    <div class="notice ${s.notice?.kind || ""}" role=${s.notice?.kind === "error" ? "alert" : "status"} aria-live="polite">${s.notice?.text || ""}</div>
    ${s.dialog === "shortcuts" ? html`<${Shortcuts} />` : null}
    ${s.dialog === "password" ? html`<${PasswordDialog} />` : null}
    ${s.dialog === "merge" && card ? html`<${MergeDialog} card=${card} messages=${s.ticket.messages} />` : null}
    ${s.dialog === "admin" ? html`<${Admin} />` : null}
    ${s.dialog === "call" ? html`<${CallDialog} card=${card} />` : null}
    ${s.dialog === "callbacks" ? html`<${CallbacksDialog} />` : null}
    ${s.dialog === "schedule-callback" && card ? html`<${ScheduleCallbackDialog} card=${card} />` : null}
    ${s.dialog === "webhooks" ? html`<${Webhooks} />` : null}
    ${s.dialog === "audit" ? html`<${Audit} />` : null}
    ${s.dialog === "reports" ? html`<${Reports} />` : null}
    ${s.dialog === "board" ? html`<${Board} />` : null}
    ${s.dialog === "knowledge" ? html`<${Knowledge} />` : null}
    ${s.dialog === "roster" ? html`<${Roster} />` : null}
    ${s.dialog === "complaints" ? html`<${ComplaintsDialog} />` : null}
    ${s.dialog === "quality" ? html`<${QualityScreen} />` : null}
    ${s.dialog === "disputes" ? html`<${DisputesDialog} />` : null}
    ${s.dialog === "dispute" && s.disputeId ? html`<${DisputeDialog} key=${s.disputeId} />` : null}
  </div>`;
}
