// "Hand off to another team": the team and a reason (kept as a private note; the thread's
// history shows the hand-off). The ticket may then leave this agent's sight: the pane closes.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { currentLanguage, t } from "../lib/i18n.js";
import { failed, loadCounts, loadList, notify, openTicket } from "../lib/inbox.js";
import { canChangeTicket, update } from "../lib/store.js";

export function teamName(team) {
  return team.names[currentLanguage()] || team.names.en || team.names["zh-CN"] || team.id;
}

export function HandOff({ c }) {
  const [teams, setTeams] = useState([]);
  const [team, setTeam] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => { api("GET", "/teams").then((found) => setTeams(found.items)).catch(() => {}); }, []);
  async function submit(event) {
    event.preventDefault();
    if (!team || !reason.trim()) return;
    setBusy(true);
    try {
      await api("POST", `/conversations/${c.id}/handoff`, { team, reason: reason.trim() });
      const to = teams.find((x) => x.id === team);
      notify(t("handoff.done", { number: c.number, team: to ? teamName(to) : team }));
      setTeam(""); setReason("");
      loadList().catch(() => {}); loadCounts();
      try { await openTicket(c.id); } catch { update({ ticket: null, loadingId: null }); } // no longer ours
    } catch (e) { failed(e); } finally { setBusy(false); }
  }
  if (!canChangeTicket()) return null; // the hub would refuse it
  return html`<details class="handoff" id="handoff">
    <summary>${t("handoff.open")}</summary>
    <form onSubmit=${submit}>
      <label class="field">${t("handoff.team")}
        <select id="handoff-team" value=${team} required onChange=${(e) => setTeam(e.target.value)}>
          <option value="">${t("handoff.choose")}</option>
          ${teams.filter((x) => x.id !== c.team).map((x) => html`<option value=${x.id}>${teamName(x)}</option>`)}</select></label>
      <label class="field">${t("handoff.reason")}
        <textarea id="handoff-reason" required maxlength="2000" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea></label>
      <button type="submit" id="handoff-submit" disabled=${busy || !team || !reason.trim()}>${t("handoff.do")}</button>
    </form>
  </details>`;
}
