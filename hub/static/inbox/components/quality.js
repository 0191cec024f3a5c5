// Service quality beside the thread: the customer's satisfaction rating (CSAT) and the QA
// reviews. A reviewer (supervisor or admin) scores the ticket's agent on a scorecard here
// and sees every review with the reviewers' disagreement per criterion; the ticket's agent
// sees the reviews of their own work, with the reviewers' comments.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { useStore } from "../lib/store.js";

const REVIEWERS = ["admin", "supervisor"];

function agentName(agents, id) {
  const found = agents.find((a) => a.id === id);
  return found ? found.name || found.email : id;
}

function Csat({ survey }) {
  if (!survey) return null;
  return html`<div class="csat" data-score=${survey.score ?? ""}>
    <h3>${t("quality.csat")}</h3>
    ${survey.score == null
      ? html`<p class="hint">${t("quality.csat_waiting", { time: formatFull(survey.asked_at) })}</p>`
      : html`<p><strong class="csat-score ${survey.score <= 2 ? "low" : ""}">${t("quality.csat_score", { score: survey.score })}</strong>${" "}
          <span class="csat-word">${t(`quality.csat_word.${survey.score}`)}</span></p>`}
    ${survey.comment ? html`<blockquote class="csat-comment">${survey.comment}</blockquote>` : null}
  </div>`;
}

function CriterionInput({ criterion, value, onValue }) {
  const options = criterion.kind === "yes_no" ? [[1, t("quality.yes")], [0, t("quality.no")]] : [5, 4, 3, 2, 1].map((n) => [n, String(n)]);
  return html`<label class="field criterion" data-criterion=${criterion.id}>
    <span>${criterion.label}${criterion.critical ? html` <em class="critical">${t("quality.critical")}</em>` : null}</span>
    <select id=${`qa-${criterion.id}`} value=${value ?? ""} onChange=${(e) => onValue(e.target.value === "" ? null : Number(e.target.value))}>
      <option value="">—</option>
      ${options.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
    </select></label>`;
}

function ReviewForm({ conversationId, cards, onSaved }) {
  const active = cards.filter((c) => c.active);
  const [cardId, setCardId] = useState(active[0]?.id || "");
  const [scores, setScores] = useState({});
  const [notes, setNotes] = useState({});
  const [comment, setComment] = useState("");
  const card = active.find((c) => c.id === cardId);
  if (!card) return html`<p class="hint">${t("quality.no_scorecards")}</p>`;
  const complete = card.criteria.every((c) => scores[c.id] != null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/conversations/${conversationId}/qa`, { scorecard_id: card.id, scores, notes, comment });
      setScores({}); setNotes({}); setComment("");
      notify(t("quality.saved"));
      onSaved();
    } catch (e) { failed(e); }
  };
  return html`<form class="qa-form" onSubmit=${submit}>
    <label class="field">${t("quality.scorecard")}
      <select id="qa-scorecard" value=${cardId} onChange=${(e) => { setCardId(e.target.value); setScores({}); }}>
        ${active.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select></label>
    ${card.criteria.map((c) => html`<div class="criterion-row" key=${c.id}>
      <${CriterionInput} criterion=${c} value=${scores[c.id]} onValue=${(v) => setScores((now) => ({ ...now, [c.id]: v }))} />
      <input class="criterion-note" aria-label=${t("quality.note_for", { criterion: c.label })} placeholder=${t("quality.note")}
        value=${notes[c.id] || ""} onInput=${(e) => { const value = e.target.value; setNotes((now) => ({ ...now, [c.id]: value })); }} />
    </div>`)}
    <label class="field">${t("quality.comment")}<textarea id="qa-comment" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea></label>
    <button type="submit" id="qa-submit" disabled=${!complete}>${t("quality.submit")}</button>
  </form>`;
}

function ReviewCard({ review, card, agents }) {
  const byId = Object.fromEntries(card.criteria.map((c) => [c.id, c]));
  return html`<article class="qa-review ${review.failed ? "failed" : ""}" data-reviewer=${review.reviewer_id}>
    <p><strong class="qa-score">${t("quality.score", { score: review.score })}</strong>
      ${review.failed ? html` <span class="badge failed">${t("quality.failed")}</span>` : null}
      <span class="hint"> ${t("quality.by", { who: agentName(agents, review.reviewer_id), time: formatFull(review.created_at) })}</span></p>
    <ul class="qa-scores">${Object.entries(review.scores).map(([id, v]) => html`<li data-criterion=${id}>
      ${byId[id]?.label || id}: ${byId[id]?.kind === "yes_no" ? t(v ? "quality.yes" : "quality.no") : `${v}/5`}
      ${review.notes?.[id] ? html` — <em>${review.notes[id]}</em>` : null}</li>`)}</ul>
    ${review.comment ? html`<blockquote class="qa-comment">${review.comment}</blockquote>` : null}
  </article>`;
}

function Disagreements({ found, card, agents, reviews }) {
  if (!found || !found.length) return null;
  const byId = Object.fromEntries(card.criteria.map((c) => [c.id, c]));
  return html`<table class="qa-calibration" aria-label=${t("quality.calibration")}>
    <caption>${t("quality.calibration")}</caption>
    <thead><tr><th>${t("quality.criterion")}</th>${reviews.map((r) => html`<th>${agentName(agents, r.reviewer_id)}</th>`)}<th>${t("quality.spread")}</th></tr></thead>
    <tbody>${found.map((d) => html`<tr data-criterion=${d.criterion} class=${d.spread >= 0.5 ? "apart" : ""}>
      <td>${byId[d.criterion]?.label || d.criterion}</td>${d.scores.map((v) => html`<td>${v}</td>`)}<td>${Math.round(d.spread * 100)}%</td></tr>`)}</tbody>
  </table>`;
}

export function Quality({ conversationId }) {
  const s = useStore();
  const [loaded, setLoaded] = useState(null);
  const [reload, setReload] = useState(0);
  const reviewer = REVIEWERS.includes(s.me.role);
  const ticket = s.ticket?.card?.conversation;
  useEffect(() => {
    let current = true;
    Promise.all([
      api("GET", `/conversations/${conversationId}/csat`),
      api("GET", `/conversations/${conversationId}/qa`),
      reviewer ? api("GET", "/qa/scorecards") : Promise.resolve({ items: [] }),
    ]).then(([csat, qa, cards]) => { if (current) setLoaded({ survey: csat.survey, qa, cards: cards.items }); }).catch(() => {});
    return () => { current = false; };
  // Read again when what the panel shows can have changed (resolved: a survey; assigned: a
  // scorecard; a customer's rating is a message), not on every refresh of the card: opening a
  // ticket asked for the survey five times in 20 ms (a trial).
  }, [conversationId, reload, ticket?.status, ticket?.assignee_id, ticket?.last_message_at]);
  if (!loaded) return null;
  const { survey, qa, cards } = loaded;
  const c = s.ticket?.card?.conversation;
  const reviewedBy = new Set(qa.scorecards.flatMap((x) => x.reviews.map((r) => `${x.scorecard.id}:${r.reviewer_id}`)));
  const open = cards.filter((card) => card.active && !reviewedBy.has(`${card.id}:${s.me.id}`));
  // A reviewer sent here from the sample with no scorecard to score on is told why nothing
  // can be scored, and where one is made (a trial's supervisor found no panel at all).
  const noCard = reviewer && c?.assignee_id && !cards.some((card) => card.active);
  if (!survey && !qa.scorecards.length && !noCard && !(reviewer && c?.assignee_id && open.length)) return null;
  return html`<section class="quality card" id="quality" aria-labelledby="quality-title">
    <h2 id="quality-title">${t("quality.title")}</h2>
    <${Csat} survey=${survey} />
    ${qa.scorecards.map((x) => html`<div class="qa-card" data-scorecard=${x.scorecard.id} key=${x.scorecard.id}>
      <h3>${reviewer ? x.scorecard.name : t("quality.my_results", { card: x.scorecard.name })}</h3>
      ${x.reviews.map((r) => html`<${ReviewCard} key=${r.id} review=${r} card=${x.scorecard} agents=${s.agents} />`)}
      <${Disagreements} found=${x.disagreements} card=${x.scorecard} agents=${s.agents} reviews=${x.reviews} />
    </div>`)}
    ${noCard ? html`<p class="hint" id="qa-no-scorecard">${t("quality.no_scorecard_yet")}</p>` : null}
    ${reviewer && c?.assignee_id && open.length
      ? html`<details class="qa-review-new" open=${!qa.scorecards.length}>
          <summary>${t("quality.review", { agent: agentName(s.agents, c.assignee_id) })}</summary>
          <${ReviewForm} conversationId=${conversationId} cards=${open} onSaved=${() => setReload(reload + 1)} />
        </details>`
      : null}
  </section>`;
}
