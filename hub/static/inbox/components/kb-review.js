// The learning review queue (knowledge base, admins and supervisors): what tickets agents
// resolved propose, personal data already masked by the hub. Each proposal is edited here,
// then approved (an example of the chosen article, or a draft article) or rejected; nothing
// reaches the knowledge base before that.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, formatPercent, t } from "../lib/i18n.js";
import { failed, notify, openTicket } from "../lib/inbox.js";
import { update } from "../lib/store.js";

const NEW = "new"; // the select's value for "a new draft article" ("" is "not chosen yet")

// The articles to choose from: those in the proposal's language first, each followed by its
// translations (indented), so the reviewer finds the right one without scanning the other language.
export function targetOptions(articles, language) {
  const groups = new Map();
  for (const a of articles) {
    const key = a.group || a.id;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(a);
  }
  const ordered = [...groups.values()].map((members) => {
    members.sort((a, b) => (a.language === language ? 0 : 1) - (b.language === language ? 0 : 1) || a.language.localeCompare(b.language));
    return members;
  });
  ordered.sort((a, b) => (a[0].language === language ? 0 : 1) - (b[0].language === language ? 0 : 1) || a[0].title.localeCompare(b[0].title));
  return ordered.flatMap((members) => members.map((a, i) => ({ article: a, translation: i > 0 })));
}

function Proposal({ proposal, articles, onDone, edited }) {
  const [question, setQuestion] = useState(proposal.question);
  // Only a sure match is preselected; otherwise the reviewer chooses (article or new draft).
  const [choice, setChoice] = useState(proposal.preselected && proposal.article_id ? proposal.article_id : "");
  const target = choice === NEW ? "" : choice;
  const firstLine = proposal.question.split("\n")[0]; // a new draft's title to start from
  const [title, setTitle] = useState(firstLine);
  const [answer, setAnswer] = useState(proposal.answer);
  const [busy, setBusy] = useState(false);
  const key = proposal.id;
  // Read by the dialog before the queue goes (Esc, x, back to the articles): a reviewer's
  // wording of the question, title or answer is not dropped without asking.
  if (question !== proposal.question || answer !== proposal.answer || title !== firstLine) edited.add(key);
  else edited.delete(key);
  async function decide(action) {
    setBusy(true);
    try {
      const path = `/kb/proposals/${encodeURIComponent(key)}/${action}`;
      const body = action === "approve" ? (target ? { question, article_id: target } : { question, title, answer }) : undefined;
      await api("POST", path, body);
      notify(t(action === "reject" ? "kb.review.rejected" : target ? "kb.review.approved" : "kb.review.approved_draft"));
      edited.delete(key);
      onDone(key);
    } catch (e) { failed(e); setBusy(false); }
  }
  const best = proposal.article_id ? articles.find((a) => a.id === proposal.article_id) : null;
  return html`<li class="proposal" data-id=${key}>
    <fieldset disabled=${busy}><legend>${t("kb.review.ticket", { number: proposal.number })} · ${formatFull(proposal.created_at)}</legend>
    <p><button type="button" class="link open-ticket" onClick=${() => {
      if (edited.size && !window.confirm(t("dialog.discard"))) return;
      edited.clear(); update({ dialog: null }); openTicket(proposal.conversation_id);
    }}>${t("kb.review.open_ticket", { number: proposal.number })}</button></p>
    <label class="field">${t("kb.review.question")}<textarea class="proposal-question" rows="3" value=${question} onInput=${(e) => setQuestion(e.target.value)}></textarea></label>
    <label class="field">${t("kb.review.target")}<select class="proposal-target" value=${choice} onChange=${(e) => setChoice(e.target.value)}>
      <option value="" disabled>${t("kb.review.choose")}</option>
      <option value=${NEW}>${t("kb.review.new_article")}</option>
      ${targetOptions(articles, proposal.language).map(({ article: a, translation }) => html`<option value=${a.id} class=${translation ? "translation" : ""}>${translation ? "\u00a0\u00a0↳ " : ""}${a.title} (${a.language})</option>`)}</select></label>
    ${best ? html`<p class="hint">${t("kb.review.suggested", { title: best.title, percent: formatPercent(proposal.confidence) })}</p>` : null}
    ${choice !== NEW ? html`<div class="field"><span>${t("kb.review.answer")}</span><p class="proposal-answer">${proposal.answer}</p></div>` : html`
      <label class="field">${t("kb.review.title_field")}<input class="proposal-title" value=${title} onInput=${(e) => setTitle(e.target.value)} /></label>
      <label class="field">${t("kb.review.draft_answer")}<textarea class="proposal-draft-answer" rows="4" value=${answer} onInput=${(e) => setAnswer(e.target.value)}></textarea></label>`}
    <div class="row">
      <button type="button" class="approve" disabled=${!choice} onClick=${() => decide("approve")}>${t("kb.review.approve")}</button>
      <button type="button" class="reject" onClick=${() => decide("reject")}>${t("kb.review.reject")}</button>
    </div></fieldset>
  </li>`;
}

export function ReviewQueue({ onCount, edited }) {
  const [items, setItems] = useState(null);
  const [articles, setArticles] = useState([]);
  useEffect(() => {
    Promise.all([api("GET", "/kb/proposals"), api("GET", "/kb/articles")]).then(([p, a]) => {
      setItems(p.items); setArticles(a.items); onCount(p.items.length);
    }, failed);
  }, []);
  if (!items) return html`<p class="hint">${t("suggest.loading")}</p>`;
  const done = (id) => { const left = items.filter((p) => p.id !== id); setItems(left); onCount(left.length); };
  return html`<div id="kb-review" class="kb-review">
    <p class="hint">${t("kb.review.intro")}</p>
    ${items.length ? html`<ul id="kb-proposals">${items.map((p) => html`<${Proposal} key=${p.id} proposal=${p} articles=${articles} onDone=${done} edited=${edited} />`)}</ul>`
      : html`<p class="hint" id="kb-review-empty">${t("kb.review.empty")}</p>`}
  </div>`;
}
