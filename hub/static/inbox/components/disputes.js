// Transaction disputes (the `disputes` plugin): the cases a ticket takes part in (sidebar),
// one case with both sides in one view (the buyer's and the seller's threads, evidence,
// deadlines, the rules' proposal, the decision form), and the list of cases by status
// ("awaiting the seller" first). Each party only ever hears its own side: the agents see both.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { codeText, failed, notify, openTicket } from "../lib/inbox.js";
import { canChangeTicket, update, useStore } from "../lib/store.js";
import { Dialog } from "./dialog.js";

const STATUSES = ["opened", "awaiting_seller", "awaiting_buyer", "under_review", "decided", "appealed", "closed"];
const REASONS = ["not_received", "not_as_described", "refund_not_received", "unauthorised_charge", "other"];
const OUTCOMES = ["refund_buyer", "partial_refund", "favour_seller"];
const DECIDABLE = new Set(["opened", "awaiting_seller", "awaiting_buyer", "under_review", "appealed"]);

const status = (s) => t(`dispute.status.${s}`);
const openCase = (id) => update({ dialog: "dispute", disputeId: id });

// An agent opens a case for the ticket's customer (the buyer) about one of their orders.
function NewDispute({ conversationId, onOpened }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  if (!open) return html`<button type="button" class="link" id="dispute-new" onClick=${() => setOpen(true)}>${t("dispute.open")}</button>`;
  async function submit(event) {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    const body = { conversation_id: conversationId, order_id: data.order_id.trim(), reason: data.reason };
    if (data.statement.trim()) body.statement = data.statement.trim();
    try { onOpened(await api("POST", "/disputes", body)); setOpen(false); setError(""); } catch (e) { setError(codeText(e)); }
  }
  return html`<form id="dispute-new-form" class="call-form" onSubmit=${submit}>
    <label class="field">${t("dispute.order")}<input id="dispute-new-order" name="order_id" required maxlength="128" /></label>
    <label class="field">${t("dispute.reason")}<select id="dispute-new-reason" name="reason">
      ${REASONS.map((r) => html`<option value=${r}>${t(`dispute.reason.${r}`)}</option>`)}</select></label>
    <label class="field">${t("dispute.statement")}<textarea id="dispute-new-statement" name="statement" rows="2" maxlength="4000"></textarea></label>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <div class="row end"><button type="submit" id="dispute-new-submit">${t("dispute.open")}</button></div>
  </form>`;
}

// In a ticket's sidebar: the disputes this ticket is the buyer's or the seller's side of.
export function TicketDisputes({ conversationId }) {
  const s = useStore();
  const [loaded, setLoaded] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    api("GET", `/conversations/${conversationId}/disputes`).then((r) => { if (current) setLoaded(r); }).catch(() => {});
    return () => { current = false; };
  }, [conversationId, version, s.recordsChanged]); // a case changed (its record's live event): reload
  if (!loaded || (!loaded.enabled && !loaded.items.length)) return null;
  const items = loaded.items;
  return html`<section class="disputes card" aria-labelledby="disputes-title">
    <h2 id="disputes-title">${t("dispute.title")}</h2>
    ${items.map((c) => html`<p class="dispute-row" data-id=${c.id}>
      <button type="button" class="link open-dispute" onClick=${() => openCase(c.id)}>${c.reference}</button>
      <span class="badge">${status(c.status)}</span>
      ${c.deadline ? html`<span class="hint">${t("dispute.until", { time: formatFull(c.deadline) })}</span>` : null}</p>`)}
    ${canChangeTicket() ? html`<${NewDispute} conversationId=${conversationId} onOpened=${() => setVersion(version + 1)} />` : null}
  </section>`;
}

function Side({ party, side, hidden }) {
  if (!side) return html`<section class="dispute-side" data-party=${party}><h3>${t(`dispute.party.${party}`)}</h3><p class="hint">${t(hidden ? "dispute.side_hidden" : "dispute.no_ticket")}</p></section>`;
  const said = side.messages.filter((m) => m.kind === "message" || m.kind === "event");
  return html`<section class="dispute-side" data-party=${party} aria-label=${t(`dispute.party.${party}`)}>
    <h3>${t(`dispute.party.${party}`)}${side.name ? html` <span class="dispute-name">${side.name}</span>` : null} <button type="button" class="link" onClick=${() => { update({ dialog: null }); openTicket(side.ticket.id); }}>#${side.ticket.number}</button>
      <span class="hint">${side.ticket.channel}</span></h3>
    <ol class="dispute-thread">${said.map((m) => html`<li class=${`${m.direction} ${m.kind}`}>
      <time datetime=${m.created_at}>${formatFull(m.created_at)}</time> <span class="text">${m.text}</span></li>`)}</ol>
  </section>`;
}

function DecideForm({ view, onDone }) {
  const [outcome, setOutcome] = useState(view.case.data.proposal?.outcome || "refund_buyer");
  const [error, setError] = useState("");
  async function submit(event) {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    const body = { outcome, grounds: data.grounds };
    if (outcome === "partial_refund") body.refund = data.refund;
    try { onDone(await api("POST", `/disputes/${view.case.id}/decide`, body)); notify(t("dispute.decided_notice")); } catch (e) { setError(codeText(e)); }
  }
  return html`<form id="dispute-decide" class="call-form" onSubmit=${submit}>
    <h3>${t("dispute.decide")}</h3>
    ${view.needs_supervisor ? html`<p class="hint" id="dispute-supervisor">${t("dispute.needs_supervisor")}</p>` : null}
    <label class="field">${t("dispute.outcome")}
      <select id="dispute-outcome" value=${outcome} onChange=${(e) => setOutcome(e.target.value)}>
        ${OUTCOMES.map((o) => html`<option value=${o}>${t(`dispute.outcome.${o}`)}</option>`)}</select></label>
    ${outcome === "partial_refund" ? html`<label class="field">${t("dispute.refund")}<input id="dispute-refund" name="refund" required inputmode="decimal" /></label>` : null}
    <label class="field">${t("dispute.grounds")}<textarea id="dispute-grounds" name="grounds" rows="3" required maxlength="4000"></textarea></label>
    ${error ? html`<p class="error" role="alert" id="dispute-error">${error}</p>` : null}
    <div class="row end"><button type="submit" id="dispute-decide-submit">${t("dispute.decide")}</button></div>
  </form>`;
}

export function DisputeDialog() {
  const s = useStore();
  const [view, setView] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    api("GET", `/disputes/${s.disputeId}`).then((v) => { if (current) setView(v); }).catch(failed);
    return () => { current = false; };
  }, [s.disputeId, version]);
  if (!view) return html`<${Dialog} id="dispute" title=${t("dispute.title")} wide=${true}><p class="hint">${t("ticket.loading")}</p><//>`;
  const c = view.case;
  const d = c.data;
  const deadlines = Object.entries(d.deadlines || {});
  return html`<${Dialog} id="dispute" title=${`${t("dispute.title")} ${d.reference}`} wide=${true}>
    <div class="dispute-case" data-status=${c.status}>
      <dl class="dispute-facts">
        <dt>${t("dispute.status")}</dt><dd id="dispute-status">${status(c.status)}</dd>
        <dt>${t("dispute.order")}</dt><dd>${d.order_id} ${d.order_title || ""}</dd>
        <dt>${t("dispute.amount")}</dt><dd id="dispute-amount">${d.amount} ${d.currency}</dd>
        <dt>${t("dispute.reason")}</dt><dd>${t(`dispute.reason.${d.reason}`)}</dd>
        ${deadlines.map(([party, at]) => html`<dt>${t("dispute.deadline", { party: t(`dispute.party.${party}`) })}</dt><dd class="dispute-deadline"><time datetime=${at}>${formatFull(at)}</time></dd>`)}
        ${(d.missed || []).map((m) => html`<dt>${t("dispute.missed")}</dt><dd class="dispute-missed">${t("dispute.missed_by", { party: t(`dispute.party.${m.party}`), time: formatFull(m.deadline) })}</dd>`)}
        <dt>${t("dispute.proposal")}</dt><dd id="dispute-proposal">${d.proposal ? t("dispute.proposal_by", { outcome: t(`dispute.outcome.${d.proposal.outcome}`), rule: d.proposal.rule }) : t("dispute.no_proposal")}</dd>
        ${d.refund?.status ? html`<dt>${t("dispute.refund_status")}</dt><dd id="dispute-refund-status">${d.refund.amount} ${d.currency}: ${d.refund.status}</dd>` : null}
      </dl>
      <h3>${t("dispute.evidence")}</h3>
      <ul id="dispute-evidence">${(d.evidence || []).map((e) => html`<li data-party=${e.party}><strong>${t(`dispute.party.${e.party}`)}</strong><span class="dispute-sep"> · </span>${e.type === "attachment" && e.ref && e.message_id
          ? html`<a href=${`/api/v1/attachments/${encodeURIComponent(e.ref)}?message=${e.message_id}`} target="_blank" rel="noopener">📎 ${e.name}</a>`
          : e.type === "attachment" ? html`📎 ${e.name}` : e.text}</li>`)}</ul>
      ${(d.decisions || []).map((x) => html`<p class="dispute-decision">${t("dispute.decision", { outcome: t(`dispute.outcome.${x.outcome}`), who: x.by, time: formatFull(x.at) })}: ${x.grounds}</p>`)}
      ${d.appeal ? html`<p class="dispute-appeal">${t("dispute.appealed_by", { party: t(`dispute.party.${d.appeal.party}`) })}: ${d.appeal.grounds}</p>` : null}
      <div class="dispute-sides"><${Side} party="buyer" side=${view.buyer} /><${Side} party="seller" side=${view.seller} hidden=${view.seller_hidden} /></div>
      ${canChangeTicket() && DECIDABLE.has(c.status) ? html`<${DecideForm} view=${view} onDone=${() => setVersion(version + 1)} />` : null}
    </div>
  <//>`;
}

// The cases by status, "awaiting the seller" first: the desk's daily list of who owes an answer.
export function DisputesDialog() {
  const [filter, setFilter] = useState("awaiting_seller");
  const [items, setItems] = useState(null);
  useEffect(() => {
    let current = true;
    const query = filter ? `?status=${filter}` : "";
    api("GET", `/disputes${query}`).then((r) => { if (current) setItems(r.items); }).catch(failed);
    return () => { current = false; };
  }, [filter]);
  return html`<${Dialog} id="disputes" title=${t("dispute.list")} wide=${true}>
    <label class="field">${t("dispute.status")}
      <select id="dispute-filter" value=${filter} onChange=${(e) => setFilter(e.target.value)}>
        <option value="">${t("dispute.any_status")}</option>
        ${STATUSES.map((x) => html`<option value=${x}>${status(x)}</option>`)}</select></label>
    ${items && items.length ? html`<ul id="dispute-list" class="callback-list">${items.map((c) => html`<li data-id=${c.id}>
      <button type="button" class="link open-dispute" onClick=${() => openCase(c.id)}>${c.reference}</button>
      <span>${c.order_id}</span><span>${c.amount} ${c.currency}</span><span class="badge">${status(c.status)}</span>
      ${c.deadline ? html`<time datetime=${c.deadline}>${formatFull(c.deadline)}</time>` : null}
      <span class="hint">#${c.number}</span></li>`)}</ul>` : html`<p class="hint" id="dispute-none">${items ? t("dispute.none") : t("ticket.loading")}</p>`}
  <//>`;
}

export function DisputesButton() {
  return html`<button type="button" id="open-disputes" class="link" onClick=${() => update({ dialog: "disputes" })}>${t("dispute.list")}</button>`;
}
