// Admin: each team's working calendar (time zone, weekly hours, holidays, make-up working
// days), entered here or imported from an .ics file. SLA clocks count in this time.
import { api } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { currentLanguage, formatFull, t } from "../lib/i18n.js";
import { failed, notify } from "../lib/inbox.js";
import { useStore } from "../lib/store.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

// "2027-10-01 国庆节" lines <-> {"2027-10-01": "国庆节"}
const daysText = (days) => Object.entries(days || {}).map(([day, name]) => `${day} ${name}`.trim()).join("\n");
function daysFrom(text) {
  const days = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [day, ...name] = line.split(/\s+/);
    days[day] = name.join(" ");
  }
  return days;
}
const spans = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// The form's fields are the admin's once shown (defaultValue, as hotline.js): a re-render from
// the shared store must not wipe what they typed; the form is keyed by the answer, so a saved
// or imported calendar shows afresh.
export function TeamCalendars() {
  const teams = useStore().teams; // a team the admin just added is listed too
  const [team, setTeam] = useState("");
  const [loaded, setLoaded] = useState(null); // {team, found}: the form shows only the chosen team's answer
  const asked = useRef(""); // the team last asked for: a slower answer for another is dropped
  async function load(id) {
    asked.current = id;
    setTeam(id);
    setLoaded(null);
    if (!id) return;
    try {
      const answer = await api("GET", `/teams/${encodeURIComponent(id)}/calendar`);
      if (asked.current === id) setLoaded({ team: id, found: answer });
    } catch (e) { failed(e); }
  }
  const setFound = (answer) => setLoaded({ team, found: answer });
  useEffect(() => {
    // the first team, unless the admin picked one while the list was on its way
    api("GET", "/teams").then((r) => { if (r.items.length && !asked.current) load(r.items[0].id); }).catch(failed);
  }, []);
  const path = `/teams/${encodeURIComponent(team)}/calendar`;
  const found = loaded?.team === team ? loaded.found : null;
  const cal = found?.calendar;
  async function save(event) {
    event.preventDefault();
    const f = new FormData(event.target);
    const body = {
      timezone: f.get("timezone").trim(),
      hours: Object.fromEntries(DAYS.map((d) => [d, spans(f.get(`hours-${d}`))])),
      holidays: daysFrom(f.get("holidays")),
      workdays: daysFrom(f.get("workdays")),
      makeup_weekday: f.get("makeup_weekday"),
    };
    try { setFound(await api("PUT", path, body)); } catch (e) { failed(e); }
  }
  async function importIcs(event) {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const imported = await api("POST", `${path}/import`, { ics: await file.text() });
      setFound(imported);
      const count = (days) => Object.keys(days || {}).length;
      // Said, with a reminder to check them: a published calendar may still move (README).
      notify(t("calendar.imported", { holidays: count(imported.calendar?.holidays), workdays: count(imported.calendar?.workdays) }));
    } catch (e) { failed(e); }
    event.target.value = "";
  }
  async function remove() {
    try { await api("DELETE", path); await load(team); } catch (e) { failed(e); }
  }
  const name = (x) => x.names[currentLanguage()] || x.names.en || x.names["zh-CN"] || x.id;
  return html`<section id="team-calendars" aria-labelledby="team-calendars-title">
    <h3 id="team-calendars-title">${t("calendar.title")}</h3>
    <label>${t("calendar.team")} <select id="calendar-team" value=${team} onChange=${(e) => load(e.target.value)}>
      ${teams.map((x) => html`<option value=${x.id}>${name(x)}</option>`)}</select></label>
    ${found ? html`<p id="calendar-status" role="status">${cal ? "" : t("calendar.always_open") + " · "}${found.open_now ? t("calendar.open_now") : t("calendar.closed_now", { time: formatFull(found.next_opening, cal?.timezone) })}</p>` : null}
    ${found ? html`<form id="calendar-form" key=${team + JSON.stringify(cal)} onSubmit=${save}>
      <label>${t("calendar.timezone")} <input name="timezone" required defaultValue=${cal?.timezone || "Asia/Shanghai"} /></label>
      <fieldset><legend>${t("calendar.hours")}</legend>
        ${DAYS.map((d) => html`<label>${t(`calendar.day.${d}`)} <input name=${`hours-${d}`} size="22" placeholder=${t("calendar.closed_day")} defaultValue=${(cal?.hours[d] || []).join(", ")} /></label>`)}
        <p class="hint">${t("calendar.hours_hint")}</p>
      </fieldset>
      <label>${t("calendar.holidays")} <textarea name="holidays" rows="3" placeholder="2027-10-01 国庆节" defaultValue=${daysText(cal?.holidays)}></textarea></label>
      <label>${t("calendar.workdays")} <textarea name="workdays" rows="2" placeholder="2027-10-09 国庆节调休" defaultValue=${daysText(cal?.workdays)}></textarea></label>
      <label>${t("calendar.makeup_weekday")} <select name="makeup_weekday">
        ${DAYS.map((d) => html`<option value=${d} selected=${d === (cal?.makeup_weekday || "mon")}>${t(`calendar.day.${d}`)}</option>`)}</select></label>
      <button type="submit">${t("calendar.save")}</button>
      ${cal ? html`<label class="import">${t("calendar.import")} <input id="calendar-ics" type="file" accept=".ics,text/calendar" onChange=${importIcs} /></label>
        <button type="button" class="link" onClick=${remove}>${t("calendar.remove")}</button>` : null}
    </form>` : null}
  </section>`;
}
