// QA: reviewers get the week's sample of resolved tickets (per agent, leaning to low CSAT and
// SLA breaches) and open each to review it beside the thread; admins define the scorecards;
// every agent reads the reviews of their own work.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed, notify, openTicket } from "../lib/inbox.js";
import { update, useStore } from "../lib/store.js";
import { Dialog } from "../components/dialog.js";

const BLANK = { id: "", label: "", kind: "scale", weight: 1, critical: false };

function agentName(agents, id) {
  const found = agents.find((a) => a.id === id);
  return found ? found.name || found.email : id;
}

function Sample() {
  const s = useStore();
  const [week, setWeek] = useState("");
  const [size, setSize] = useState(5);
  const [found, setFound] = useState(null);
  const [cards, setCards] = useState(null);
  const load = async () => {
    const query = new URLSearchParams({ size: String(size), ...(week ? { week } : {}) });
    try { setFound(await api("GET", `/qa/sample?${query}`)); } catch (e) { failed(e); }
  };
  useEffect(() => { load(); api("GET", "/qa/scorecards").then((x) => setCards(x.items)).catch(() => {}); }, []);
  const open = (id) => { update({ dialog: null }); openTicket(id); };
  return html`<section class="qa-sample" aria-labelledby="qa-sample-title">
    <h3 id="qa-sample-title">${t("quality.sample")}</h3>
    <div class="row">
      <label class="field">${t("quality.week")}<input id="qa-week" type="week" value=${week || found?.week || ""} onChange=${(e) => setWeek(e.target.value)} /></label>
      <label class="field">${t("quality.size")}<input id="qa-size" type="number" min="1" max="20" value=${size} onChange=${(e) => setSize(Number(e.target.value) || 5)} /></label>
      <button type="button" id="qa-draw" onClick=${load}>${t("quality.draw")}</button>
    </div>
    ${cards && !cards.some((c) => c.active) ? html`<p class="hint warn" id="qa-no-scorecard">${t("quality.no_scorecard_yet")}</p>` : null}
    ${found && !found.items.length ? html`<p class="hint">${t("quality.sample_empty")}</p>` : null}
    ${found && found.items.length ? html`<table class="log"><thead><tr><th>#</th><th>${t("quality.agent")}</th><th>${t("quality.csat")}</th><th>SLA</th><th></th><th></th></tr></thead>
      <tbody>${found.items.map((i) => html`<tr data-id=${i.conversation_id}>
        <td>#${i.number} ${i.subject}</td><td>${agentName(s.agents, i.agent_id)}</td>
        <td>${i.csat ?? "—"}</td><td>${i.sla_breached ? t("quality.breached") : ""}</td>
        <td class="qa-reviewed">${i.reviewed ? html`<span class="tag">✓ ${t("quality.reviewed_by_me")}</span>` : ""}</td>
        <td><button type="button" class="link open-sampled" onClick=${() => open(i.conversation_id)}>${t("quality.open")}</button></td></tr>`)}</tbody></table>` : null}
  </section>`;
}

function ScorecardEditor({ card, onSaved }) {
  const [name, setName] = useState(card?.name || "");
  const [criteria, setCriteria] = useState(card?.criteria || [{ ...BLANK }]);
  const [active, setActive] = useState(card ? card.active : true);
  const change = (i, patch) => setCriteria(criteria.map((c, n) => (n === i ? { ...c, ...patch } : c)));
  const save = async (event) => {
    event.preventDefault();
    const body = { name, active, criteria: criteria.map((c) => ({ ...c, weight: Number(c.weight) })) };
    try {
      onSaved(await api(card ? "PUT" : "POST", card ? `/qa/scorecards/${card.id}` : "/qa/scorecards", body));
      notify(t("quality.card_saved"));
    } catch (e) { failed(e); }
  };
  return html`<form class="scorecard-form" onSubmit=${save}>
    <label class="field">${t("quality.card_name")}<input class="card-name" value=${name} required onInput=${(e) => setName(e.target.value)} /></label>
    <table class="criteria"><thead><tr><th>${t("quality.criterion_id")}</th><th>${t("quality.criterion")}</th><th>${t("quality.kind")}</th><th>${t("quality.weight")}</th><th>${t("quality.critical")}</th></tr></thead>
      <tbody>${criteria.map((c, i) => html`<tr>
        <td><input class="criterion-id" value=${c.id} required pattern="[a-z][a-z0-9_-]*" onInput=${(e) => change(i, { id: e.target.value })} /></td>
        <td><input class="criterion-label" value=${c.label} required onInput=${(e) => change(i, { label: e.target.value })} /></td>
        <td><select class="criterion-kind" value=${c.kind} onChange=${(e) => change(i, { kind: e.target.value })}>
          <option value="scale">${t("quality.kind_scale")}</option><option value="yes_no">${t("quality.kind_yes_no")}</option></select></td>
        <td><input class="criterion-weight" type="number" min="0" max="100" value=${c.weight} onInput=${(e) => change(i, { weight: e.target.value })} /></td>
        <td><input class="criterion-critical" type="checkbox" checked=${c.critical} onChange=${(e) => change(i, { critical: e.target.checked })} /></td></tr>`)}</tbody></table>
    <p><button type="button" class="link add-criterion" onClick=${() => setCriteria([...criteria, { ...BLANK }])}>${t("quality.add_criterion")}</button></p>
    <label class="field checkbox"><input type="checkbox" checked=${active} onChange=${(e) => setActive(e.target.checked)} /> ${t("quality.active")}</label>
    <button type="submit" class="save-scorecard">${t("quality.save_card")}</button>
  </form>`;
}

function Scorecards() {
  const [cards, setCards] = useState([]);
  const [editing, setEditing] = useState(null); // a card, "new", or null
  const load = () => api("GET", "/qa/scorecards").then((r) => setCards(r.items)).catch(failed);
  useEffect(() => { load(); }, []);
  return html`<section class="qa-scorecards" aria-labelledby="qa-cards-title">
    <h3 id="qa-cards-title">${t("quality.scorecards")}</h3>
    <ul>${cards.map((c) => html`<li data-id=${c.id}>${c.name} ${c.active ? "" : html`<span class="hint">(${t("quality.retired")})</span>`}
      <button type="button" class="link" onClick=${() => setEditing(c)}>${t("quality.edit")}</button></li>`)}</ul>
    ${editing ? html`<${ScorecardEditor} key=${editing.id || "new"} card=${editing === "new" ? null : editing} onSaved=${() => { setEditing(null); load(); }} />`
      : html`<button type="button" id="new-scorecard" onClick=${() => setEditing("new")}>${t("quality.new_card")}</button>`}
  </section>`;
}

function MyResults() {
  const [items, setItems] = useState(null);
  useEffect(() => { api("GET", "/qa/mine").then((r) => setItems(r.items)).catch(failed); }, []);
  if (!items) return null;
  return html`<section class="qa-mine" aria-labelledby="qa-mine-title">
    <h3 id="qa-mine-title">${t("quality.mine")}</h3>
    ${items.length ? html`<ul>${items.map((r) => html`<li data-id=${r.id}>
      <button type="button" class="link" onClick=${() => { update({ dialog: null }); openTicket(r.conversation_id); }}>#${r.number}</button>${" · "}${r.scorecard?.name || ""}: <strong>${t("quality.score", { score: r.score })}</strong>${r.failed ? html` <span class="badge failed">${t("quality.failed")}</span>` : null}
      <span class="hint"> ${formatFull(r.created_at)}</span>${r.comment ? html`<blockquote>${r.comment}</blockquote>` : null}</li>`)}</ul>`
      : html`<p class="hint">${t("quality.mine_empty")}</p>`}
  </section>`;
}

export function QualityScreen() {
  const s = useStore();
  const reviewer = s.me.role === "admin" || s.me.role === "supervisor";
  return html`<${Dialog} id="quality-dialog" title=${t("quality.screen")} wide=${true}>
    ${reviewer ? html`<${Sample} />` : null}
    ${s.me.role === "admin" ? html`<${Scorecards} />` : null}
    <${MyResults} />
  <//>`;
}
