// Supervisors' live board: per team the open tickets, the queue and its oldest wait, SLA
// breached and at risk, and its agents (presence, duty, open tickets), read again every 15 s and
// soon after live events (a trial's supervisor had only /metrics to see the desk now).
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { formatCount, formatSpan, formatTime, t } from "../lib/i18n.js";
import { failed, onLiveEvent } from "../lib/inbox.js";
import { teamLabel } from "../lib/desk.js";
import { throttle } from "../lib/timing.js";
import { Dialog } from "../components/dialog.js";

const EVERY_MS = 15000;
let refreshBoard = null; // the open board's reload, for live events
const soon = throttle(() => refreshBoard?.(), 5000, 10000); // a busy desk: one read every few seconds, not one per change
onLiveEvent((event) => { if (event.type !== "typing" && event.type !== "viewing") soon(); });

function Figures({ row }) {
  return html`<td class="num">${formatCount(row.open)}</td><td class="num">${formatCount(row.waiting)}</td>
    <td class="num">${row.waiting ? formatSpan(row.oldest_wait_seconds) : "—"}</td>
    <td class="num ${row.sla_breached ? "breached" : ""}">${formatCount(row.sla_breached)}</td>
    <td class="num ${row.sla_at_risk ? "warn" : ""}">${formatCount(row.sla_at_risk)}</td>`;
}

function Agents({ agents }) {
  if (!agents.length) return html`<span class="hint">${t("board.no_agents")}</span>`;
  const said = (a) => [a.name, t(`presence.${a.presence}`), a.on_leave ? t("board.on_leave") : a.on_shift || a.on_backup ? "" : t("board.off_shift"), a.backup_called ? t("board.backup") : a.on_backup ? t("board.on_backup") : "", t("board.open", { count: a.open })];
  return html`<ul class="board-agents">${agents.map((a) => html`<li data-agent=${a.id} class=${a.presence}><span class="dot" aria-hidden="true"></span> ${said(a).filter(Boolean).join(" · ")}</li>`)}</ul>`;
}

export function Board() {
  const [data, setData] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () => api("GET", "/board").then((x) => { if (live) setData(x); }).catch((e) => { if (live) failed(e); });
    refreshBoard = load;
    load();
    const timer = setInterval(load, EVERY_MS);
    return () => { live = false; clearInterval(timer); refreshBoard = null; };
  }, []);
  const head = html`<tr><th>${t("board.team")}</th><th>${t("board.open_tickets")}</th><th>${t("board.waiting")}</th>
    <th>${t("board.oldest")}</th><th>${t("board.breached")}</th><th>${t("board.at_risk")}</th><th>${t("board.agents")}</th></tr>`;
  return html`<${Dialog} id="board-dialog" title=${t("board.title")} wide=${true}>
    ${data ? html`<p class="hint" id="board-at">${t("board.as_of", { time: formatTime(data.at) })}</p>
      <table class="log board"><thead>${head}</thead><tbody>
        ${data.teams.map((row) => html`<tr data-team=${row.team}><th scope="row">${teamLabel(row.team)}</th><${Figures} row=${row} /><td><${Agents} agents=${row.agents} /></td></tr>`)}
        ${data.no_team ? html`<tr data-team=""><th scope="row">${t("board.no_team")}</th><${Figures} row=${data.no_team} /><td></td></tr>` : null}
      </tbody></table>` : html`<p>${t("list.loading")}</p>`}
  <//>`;
}
