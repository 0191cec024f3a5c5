// The complaints plugin in the inbox. In a ticket's sidebar: file the ticket as a complaint
// or a suggestion, move a complaint, send its outcome (the customer is told; only then may the
// ticket be resolved), add follow-ups and mark them done. From the left column: overdue
// complaints, complaints by status, suggestions by topic. The hub decides who sees what: a
// complaint about an agent never reaches that agent's lists.
import { api } from "../lib/api.js";
import { localInputValue } from "../lib/hotline.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatFull, t } from "../lib/i18n.js";
import { failed, notify, openTicket } from "../lib/inbox.js";
import { canChangeTicket, update, useStore } from "../lib/store.js";
import { Dialog } from "./dialog.js";
import { DraftInput } from "./draft-input.js";
import { ZoneHint } from "./zone-hint.js";

const SUBJECTS = ["seller", "order", "agent", "feature", "other"];
const SEVERITIES = ["low", "normal", "high", "critical"];
const STATUSES = ["received", "investigating", "awaiting_outcome", "outcome_sent", "closed"];
// conversation/complaints.py MOVES: the hub checks them again
const MOVES = {
  received: ["investigating"], investigating: ["awaiting_outcome"], awaiting_outcome: ["investigating"],
  outcome_sent: ["closed", "investigating"], closed: [],
};

function Choice({ id, name, value, options, onValue }) {
  return html`<label class="field">${t(`complaints.${name}`)}<select id=${id} value=${value} onChange=${(e) => onValue(e.target.value)}>
    ${options.map((o) => html`<option value=${o}>${t(`complaints.${name}.${o}`)}</option>`)}</select></label>`;
}

function FileForm({ conversationId, onFiled }) {
  const [kind, setKind] = useState("complaint");
  const [subject, setSubject] = useState("other");
  const [severity, setSeverity] = useState("normal");
  const [summary, setSummary] = useState("");
  const submit = async () => {
    const body = kind === "complaint" ? { kind, subject, severity, summary } : { kind, summary };
    try { onFiled(await api("POST", `/conversations/${conversationId}/complaint`, body)); notify(t("complaints.filed")); } catch (e) { failed(e); }
  };
  return html`<div class="complaint-file">
    <${Choice} id="complaint-kind" name="kind" value=${kind} options=${["complaint", "suggestion"]} onValue=${setKind} />
    ${kind === "complaint" ? html`<${Choice} id="complaint-subject" name="subject" value=${subject} options=${SUBJECTS} onValue=${setSubject} />
      <${Choice} id="complaint-severity" name="severity" value=${severity} options=${SEVERITIES} onValue=${setSeverity} />` : null}
    <label class="field">${t("complaints.summary")}<textarea id="complaint-summary" value=${summary} onInput=${(e) => setSummary(e.target.value)}></textarea></label>
    <button type="button" id="complaint-file" onClick=${submit}>${t(`complaints.file.${kind}`)}</button>
  </div>`;
}

// a topic of the defaults by its name in the agent's language; a topic of the settings' own as written
const topicLabels = (topics) => topics.map((x) => (t(`complaints.topic.${x}`) === `complaints.topic.${x}` ? x : t(`complaints.topic.${x}`))).join(", ");

const agentName = (s, id) => { const a = (s.agents || []).find((x) => x.id === id); return a ? a.name || a.email : id; };

function FollowUps({ record, onSaved }) {
  const s = useStore();
  const [text, setText] = useState("");
  const [owner, setOwner] = useState(s.me.id === record.data.about_agent ? "" : s.me.id);
  const [due, setDue] = useState(localInputValue(new Date(Date.now() + 86400000)));
  const base = `/complaints/${record.id}/follow-ups`;
  const add = async () => {
    try { onSaved(await api("POST", base, { text, owner, due: new Date(due).toISOString() })); setText(""); } catch (e) { failed(e); }
  };
  const done = async (id) => { try { onSaved(await api("POST", `${base}/${id}/done`)); } catch (e) { failed(e); } };
  const name = (id) => agentName(s, id);
  // the agent a complaint is about may never see it: never its follow-up's owner (the hub refuses it too)
  const owners = (s.agents || []).filter((a) => a.id !== record.data.about_agent);
  const now = Date.now();
  return html`<div class="follow-ups">
    <h3>${t("complaints.follow_ups")}</h3>
    <ul class="callback-list">${(record.data.follow_ups || []).map((f) => html`<li data-id=${f.id} class=${!f.done && new Date(f.due).getTime() <= now ? "overdue" : ""}>
      <span>${f.text}</span><span class="who">${name(f.owner)}</span><time datetime=${f.due}>${formatFull(f.due)}</time>
      ${f.done ? html`<span class="badge">${t("complaints.done")}</span>` : html`<button type="button" class="link follow-up-done" onClick=${() => done(f.id)}>${t("complaints.mark_done")}</button>`}
    </li>`)}</ul>
    <label class="field">${t("complaints.follow_up.text")}<input id="follow-up-text" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
    <label class="field">${t("complaints.follow_up.owner")}<select id="follow-up-owner" value=${owner} onChange=${(e) => setOwner(e.target.value)}>
      ${owners.map((a) => html`<option value=${a.id}>${a.name || a.email}</option>`)}</select></label>
    <label class="field">${t("complaints.follow_up.due")}<input id="follow-up-due" type="datetime-local" value=${due} onChange=${(e) => setDue(e.target.value)} /><${ZoneHint} /></label>
    <button type="button" id="follow-up-add" onClick=${add}>${t("complaints.follow_up.add")}</button>
  </div>`;
}

function ComplaintCard({ record, onSaved }) {
  const s = useStore();
  const [outcome, setOutcome] = useState("");
  const call = async (path, body) => { try { onSaved(await api("POST", `/complaints/${record.id}/${path}`, body)); } catch (e) { failed(e); } };
  const open = ["received", "investigating", "awaiting_outcome"].includes(record.status);
  return html`<div class="complaint" data-id=${record.id} data-status=${record.status}>
    <p><strong class="complaint-number">${record.data.number}</strong> <span class="badge complaint-status">${t(`complaints.status.${record.status}`)}</span></p>
    <p class="hint">${t(`complaints.subject.${record.data.subject}`)} · ${t(`complaints.severity.${record.data.severity}`)}</p>
    ${record.data.about_agent ? html`<p class="complaint-about-agent">${t("complaints.about_agent", { name: agentName(s, record.data.about_agent) })}</p>` : null}
    ${record.data.summary ? html`<p>${record.data.summary}</p>` : null}
    <div class="row">${(MOVES[record.status] || []).map((to) => html`<button type="button" class="complaint-move" data-to=${to} onClick=${() => call("move", { status: to })}>${t(`complaints.move.${to}`)}</button>`)}</div>
    ${open ? html`<label class="field">${t("complaints.outcome")}<textarea id="complaint-outcome" value=${outcome} onInput=${(e) => setOutcome(e.target.value)}></textarea></label>
      <button type="button" id="complaint-send-outcome" onClick=${() => call("outcome", { outcome })}>${t("complaints.send_outcome")}</button>`
      : html`<p class="complaint-outcome-sent">${t("complaints.outcome")}: ${record.data.outcome || "—"}</p>`}
    <${FollowUps} record=${record} onSaved=${onSaved} />
  </div>`;
}

// In the ticket's sidebar (nothing when the plugin is off).
export function ComplaintPanel({ conversationId }) {
  const s = useStore();
  const [loaded, setLoaded] = useState(null);
  useEffect(() => {
    let current = true;
    api("GET", `/conversations/${conversationId}/records`).then((r) => { if (current) setLoaded(r); }).catch(() => {});
    return () => { current = false; };
  }, [conversationId, s.recordsChanged]);
  if (!loaded || !loaded.kinds.some((k) => k.plugin === "complaints")) return null;
  const mine = loaded.items.filter((r) => r.plugin === "complaints");
  const complaints = mine.filter((r) => r.kind === "complaint");
  const saved = (record) => setLoaded((now) => ({ ...now, items: [record, ...now.items.filter((r) => r.id !== record.id)] }));
  return html`<section class="complaints card" aria-labelledby="complaints-title">
    <h2 id="complaints-title">${t("complaints.title")}</h2>
    <fieldset class="plain" disabled=${!canChangeTicket()}>
      ${complaints.map((r) => html`<${ComplaintCard} key=${r.id + r.version} record=${r} onSaved=${saved} />`)}
      ${mine.filter((r) => r.kind === "suggestion").map((r) => html`<p class="suggestion" data-id=${r.id}>${t("complaints.kind.suggestion")}: ${r.data.text} <span class="badge">${topicLabels(r.data.topics)}</span></p>`)}
      ${!complaints.length && canChangeTicket() ? html`<${FileForm} conversationId=${conversationId} onFiled=${saved} />` : null}
    </fieldset>
  </section>`;
}

const LISTS = ["overdue", "status", "suggestions"];

export function ComplaintsDialog() {
  const [list, setList] = useState("overdue");
  const [status, setStatus] = useState("received");
  const [topic, setTopic] = useState("");
  const [items, setItems] = useState(null);
  useEffect(() => {
    const path = list === "overdue" ? "/complaints?overdue=true" : list === "status" ? `/complaints?status=${status}`
      : `/suggestions${topic ? `?topic=${encodeURIComponent(topic)}` : ""}`;
    setItems(null);
    // Only the list last asked for is shown: an earlier one answering late (a slow server) is dropped.
    let current = true;
    api("GET", path)
      .then((r) => { if (current) setItems(r.items); })
      .catch((e) => { if (current) { failed(e); setItems([]); } });
    return () => { current = false; };
  }, [list, status, topic]);
  const go = (r) => { update({ dialog: null }); openTicket(r.conversation_id); };
  return html`<${Dialog} id="complaints" title=${t("complaints.lists")} wide=${true}>
    <div class="row" role="group" aria-label=${t("complaints.lists")}>
      ${LISTS.map((l) => html`<button type="button" id="complaints-${l}" aria-pressed=${list === l} onClick=${() => setList(l)}>${t(`complaints.list.${l}`)}</button>`)}
    </div>
    ${list === "status" ? html`<${Choice} id="complaints-by-status" name="status" value=${status} options=${STATUSES} onValue=${setStatus} />` : null}
    ${list === "suggestions" ? html`<label class="field">${t("complaints.topic")}<${DraftInput} id="suggestions-topic" value=${topic} onCommit=${(v) => setTopic(v.trim())} /></label>` : null}
    ${items === null ? null : items.length ? html`<ul id="complaint-list" class="callback-list">
      ${items.map((r) => html`<li data-id=${r.id}>
        ${r.kind === "complaint" ? html`<span class="number">${r.data.number}</span>
          <span class="badge">${t(`complaints.status.${r.status}`)}</span><span>${t(`complaints.subject.${r.data.subject}`)}</span>
          ${r.deadline ? html`<time datetime=${r.deadline}>${formatFull(r.deadline)}</time>` : null}`
          : html`<span class="badge">${topicLabels(r.data.topics)}</span><span>${r.data.text}</span>`}
        <button type="button" class="link" onClick=${() => go(r)}>${t("complaints.open")}</button>
      </li>`)}</ul>` : html`<p class="hint">${t("complaints.none")}</p>`}
  <//>`;
}

// In the left column, when the plugin is on: the lists, with how many complaints are overdue.
export function ComplaintsButton() {
  const s = useStore();
  const [overdue, setOverdue] = useState(null);
  const [enabled, setEnabled] = useState(false);
  const open = s.dialog === "complaints";
  useEffect(() => { // asked once: with the plugin off the lists' routes answer 409 (a console error)
    api("GET", "/me").then((me) => setEnabled((me.plugins || []).includes("complaints"))).catch(() => setEnabled(false));
  }, []);
  useEffect(() => { // on start and after the lists were open: not on every record change (a scan of the complaints)
    if (enabled && !open) api("GET", "/complaints?overdue=true").then((r) => setOverdue(r.items.length)).catch(() => setOverdue(null));
  }, [open, enabled]);
  if (overdue === null) return null;
  return html`<button type="button" id="open-complaints" class="link" onClick=${() => update({ dialog: "complaints" })}>
    ${t("complaints.lists")}${overdue ? html` <span class="count">${overdue}</span>` : null}</button>`;
}
