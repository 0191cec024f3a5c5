// The roster: a team's week (shifts and backup duty by day, in the team's time zone), the
// hours of the coming 14 days below the team's minimum, and, for the team's supervisors and
// admins, adding entries, deleting them and CSV import/export.
import { api } from "../lib/api.js";
import { html, useEffect, useState } from "../lib/html.js";
import { currentLanguage, eventText, formatFull, t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { state } from "../lib/store.js";
import { Dialog } from "../components/dialog.js";

const DAY_MS = 86400000;
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function agentName(id) { const a = state.agents.find((x) => x.id === id); return a ? a.name || a.email : id; }

function formatter(timeZone, options) { return new Intl.DateTimeFormat(currentLanguage(), { timeZone, ...options }); }

// The local calendar day (YYYY-MM-DD) of an instant in the team's time zone.
function localDay(iso, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

// Hours in a row (a gap of 12:00-16:00 rather than four lines), with the lowest count in them.
function mergeGaps(gaps) {
  const merged = [];
  for (const gap of gaps) {
    const last = merged[merged.length - 1];
    if (last && last.end === gap.start) { last.end = gap.end; last.on_shift = Math.min(last.on_shift, gap.on_shift); }
    else merged.push({ ...gap });
  }
  return merged;
}

function WeekTable({ week, days }) {
  const time = formatter(week.timezone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const dayName = formatter(week.timezone, { weekday: "short", month: "numeric", day: "numeric" });
  return html`<table id="roster-week" class="roster-week">
    <thead><tr>${days.map((d) => html`<th scope="col" data-day=${d.key}>${dayName.format(d.date)}</th>`)}</tr></thead>
    <tbody><tr>${days.map((d) => html`<td data-day=${d.key}><ul>
      ${week.duties.filter((x) => localDay(x.start, week.timezone) === d.key).map((x) => html`<li class="duty ${x.duty}" data-agent=${x.agent_id}>
        <span class="label">${x.label || t(`roster.duty.${x.duty}`)}</span>
        <span class="hours">${time.format(new Date(x.start))}–${time.format(new Date(x.end))}</span>
        <span class="who">${agentName(x.agent_id)}</span>${x.duty === "backup" && x.label !== t("roster.duty.backup") ? html` <span class="tag">${t("roster.duty.backup")}</span>` : null}</li>`)}
    </ul></td>`)}</tr></tbody>
  </table>`;
}

// An entry's hours; a whole day ends at 24:00 (a trial's 24-hour backup read "00:00–00:00").
function span(e) { return `${e.start}–${e.start === "00:00" && e.end === "00:00" ? "24:00" : e.end}`; }

// One roster entry as a line; its parts apart (" · "), since the template drops the line break
// between them, and a swap says whose shift, which one, and on which day.
function entryLine(e, entries) {
  if (e.kind === "swap") {
    const pattern = entries.find((x) => x.id === e.pattern);
    const shift = pattern ? pattern.label || span(pattern) : e.pattern;
    return t("roster.swap_line", { date: e.date || "", to: e.agents.map(agentName).join(", "), from: agentName(e.replaces), shift });
  }
  const when = `${e.date || ""}${e.until ? `–${e.until}` : ""}`;
  const duty = e.duty === "backup" && e.kind !== "leave" ? t("roster.duty.backup") : "";  // which entries are backup (a trial)
  return [t(`roster.kind.${e.kind}`), duty, e.label, e.start ? span(e) : "", when, e.agents.map(agentName).join(", ")]
    .filter(Boolean).join(" · ");
}

function EntryForm({ team, entries, onSaved }) {
  const [kind, setKind] = useState("pattern");
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = { team, kind, agents: form.getAll("agents") };
    for (const key of ["label", "duty", "start", "end", "date", "until", "pattern", "replaces"]) { const v = form.get(key); if (v) body[key] = v; }
    if (kind === "pattern") body.weekdays = form.getAll("weekdays");
    try { await api("POST", "/roster/entries", body); event.target.reset(); onSaved(); } catch (e) { failed(e); }
  }
  const timed = kind === "pattern" || kind === "extra";
  return html`<form id="roster-entry-form" class="roster-form" onSubmit=${submit}>
    <label>${t("roster.kind")} <select name="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
      ${["pattern", "extra", "swap", "leave"].map((k) => html`<option value=${k}>${t(`roster.kind.${k}`)}</option>`)}</select></label>
    <label>${t(kind === "swap" ? "roster.swap_to" : "roster.agents")} <select name="agents" multiple=${kind !== "swap"} required>${state.agents.filter((a) => a.active !== false).map((a) => html`<option value=${a.id}>${a.name || a.email}</option>`)}</select></label>
    ${kind === "swap" ? html`<label>${t("roster.swap_pattern")} <select name="pattern" required>${entries.filter((e) => e.kind === "pattern").map((e) => html`<option value=${e.id}>${e.label || span(e)}</option>`)}</select></label>
      <label>${t("roster.swap_from")} <select name="replaces" required>${state.agents.map((a) => html`<option value=${a.id}>${a.name || a.email}</option>`)}</select></label>` : null}
    ${timed ? html`<label>${t("roster.label")} <input name="label" maxlength="50" placeholder=${t("roster.label_hint")} /></label>
      <label>${t("roster.duty")} <select name="duty"><option value="shift">${t("roster.duty.shift")}</option><option value="backup">${t("roster.duty.backup")}</option></select></label>
      <label>${t("roster.start")} <input name="start" type="time" required /></label>
      <label>${t("roster.end")} <input name="end" type="time" required /></label>` : null}
    ${kind === "pattern" ? html`<fieldset class="weekdays"><legend>${t("roster.weekdays")}</legend>
      ${WEEKDAYS.map((d) => html`<label><input type="checkbox" name="weekdays" value=${d} />${t(`roster.weekday.${d}`)}</label>`)}</fieldset>` : null}
    ${kind !== "pattern" ? html`<label>${t(kind === "leave" ? "roster.from" : "roster.date")} <input name="date" type="date" required /></label>` : null}
    ${kind === "leave" ? html`<label>${t("roster.until")} <input name="until" type="date" /></label>` : null}
    <button type="submit">${t("roster.add")}</button>
  </form>`;
}

export function Roster() {
  const [teams, setTeams] = useState([]);
  const [team, setTeam] = useState("");
  const [offset, setOffset] = useState(0); // weeks from this one
  const [week, setWeek] = useState(null);
  const [coverage, setCoverage] = useState(null);
  const [csv, setCsv] = useState("");
  const [importError, setImportError] = useState("");
  const [pages, setPages] = useState([]);
  const admin = state.me.role === "admin";
  useEffect(() => {
    api("GET", "/teams").then((r) => {
      // A team's roster is for its members (admins: every team); it opens on the team the
      // agent leads, else the first they belong to, never merely the first by name.
      const own = r.items.filter((x) => x.members.includes(state.me.id));
      setTeams(admin ? r.items : own);
      const mine = own.find((x) => x.lead === state.me.id) || own[0];
      setTeam((now) => now || mine?.id || (admin ? r.items[0]?.id : "") || "");
    }).catch(failed);
  }, []);
  async function reload() {
    if (!team) return;
    try {
      const first = await api("GET", `/roster?team=${encodeURIComponent(team)}`);
      const from = new Date(Date.parse(first.from) + offset * 7 * DAY_MS);
      const shown = offset ? await api("GET", `/roster?team=${encodeURIComponent(team)}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(new Date(from.getTime() + 7 * DAY_MS).toISOString())}`) : first;
      setWeek(shown);
      setCoverage(await api("GET", `/roster/coverage?team=${encodeURIComponent(team)}&days=14`));
      setPages((await api("GET", `/pages?team=${encodeURIComponent(team)}&limit=20`)).items);
    } catch (e) { failed(e); }
  }
  useEffect(() => { reload(); }, [team, offset]);
  const days = week ? Array.from({ length: 7 }, (_, i) => {
    const date = new Date(Date.parse(week.from) + i * DAY_MS + 12 * 3600000); // noon: safe across DST
    return { date, key: localDay(date.toISOString(), week.timezone) };
  }) : [];
  const when = week ? formatter(week.timezone, { month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) : null;
  // A refused file is said beside the form (which line, and why) until the next try: a passing
  // notice is easily missed, and nothing of the file was kept.
  async function importCsv(event) {
    event.preventDefault();
    setImportError("");
    try { await api("POST", "/roster/import", { team, csv }); setCsv(""); reload(); } catch (e) {
      if (e.code === "csv_line") setImportError(t("roster.import_refused", { line: e.details.line, reason: e.details.reason }));
      else failed(e);
    }
  }
  const remove = (id) => async () => { try { await api("DELETE", `/roster/entries/${encodeURIComponent(id)}`); reload(); } catch (e) { failed(e); } };
  const teamName = (x) => x.names[currentLanguage()] || x.names.en || x.names["zh-CN"] || x.id;
  const current = teams.find((x) => x.id === team);
  const shownTeam = current ? teamName(current) : team;
  // Its supervisors and admins change a team's roster (hub/access.py manages_team).
  const manages = admin || (state.me.role === "supervisor" && Boolean(current?.members.includes(state.me.id)));
  return html`<${Dialog} id="roster" title=${t("roster.title")} wide=${true}>
    <div class="roster-bar">
      <label>${t("roster.team")} <select id="roster-team" value=${team} onChange=${(e) => { setTeam(e.target.value); setOffset(0); }}>
        ${teams.map((x) => html`<option value=${x.id}>${teamName(x)}</option>`)}</select></label>
      <button type="button" id="roster-prev" onClick=${() => setOffset(offset - 1)}>${t("roster.previous_week")}</button>
      <button type="button" id="roster-this" onClick=${() => setOffset(0)}>${t("roster.this_week")}</button>
      <button type="button" id="roster-next" onClick=${() => setOffset(offset + 1)}>${t("roster.next_week")}</button>
      ${week ? html`<span class="tz">${t("roster.timezone", { zone: week.timezone })}</span>` : null}
    </div>
    ${week ? html`<${WeekTable} week=${week} days=${days} />` : html`<p>${t("ticket.loading")}</p>`}
    <h3>${t("roster.coverage")}</h3>
    ${coverage && coverage.rostered === false ? html`<p id="roster-unrostered">${t("roster.unrostered")}</p>` : coverage ? (coverage.gaps.length
      ? html`<ul id="roster-gaps" class="gaps">${mergeGaps(coverage.gaps).map((g) => html`<li data-start=${g.start}>
          ${t("roster.gap", { from: when.format(new Date(g.start)), to: when.format(new Date(g.end)), count: g.on_shift, minimum: coverage.minimum })}</li>`)}</ul>`
      : html`<p id="roster-covered">${t("roster.covered", { minimum: coverage.minimum })}</p>`) : null}
    <h3>${t("roster.pages")}</h3>
    ${pages.length
      ? html`<ul id="roster-pages">${pages.map((p) => html`<li data-reason=${p.reason} class=${p.released_at ? "released" : "active"}>
          ${formatFull(p.at)} — ${eventText({ key: `event.backup_paged.${p.reason}`, params: { ...p.params, agent: agentName(p.agent_id), team: shownTeam } }, p.reason)}
          ${p.released_at ? html` <span class="tag">${t("roster.page_released")}</span>` : null}</li>`)}</ul>`
      : html`<p id="roster-no-pages">${t("roster.no_pages")}</p>`}
    ${manages && week ? html`<h3>${t("roster.entries")}</h3>
      <ul id="roster-entries">${week.entries.map((e) => html`<li data-id=${e.id}>${entryLine(e, week.entries)} <button type="button" class="link" onClick=${remove(e.id)}>${t("admin.delete")}</button></li>`)}</ul>
      <${EntryForm} team=${team} entries=${week.entries} onSaved=${reload} />
      <h3>${t("roster.csv")}</h3>
      <p><a id="roster-export" href=${`/api/v1/roster/export?team=${encodeURIComponent(team)}`} download>${t("roster.export")}</a></p>
      <form id="roster-import" onSubmit=${importCsv}>
        <label>${t("roster.import_hint")}<textarea name="csv" rows="4" value=${csv} onInput=${(e) => setCsv(e.target.value)} required></textarea></label>
        <button type="submit">${t("roster.import")}</button>
        ${importError ? html`<p id="roster-import-error" class="error" role="alert">${importError}</p>` : null}
      </form>` : null}
  <//>`;
}
