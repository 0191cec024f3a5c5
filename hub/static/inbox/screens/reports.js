// Supervisors' reports: a period (days in the hub's [reports] timezone, which the API reports), team, channel,
// category and agent filters; the summary figures, charts (Apache ECharts, vendored, loaded
// only here), the per-agent table and CSV/XLSX export. Every number comes from the hub
// (GET /api/v1/reports/...); this screen only draws them.
import { api } from "../lib/api.js";
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { channelLabel, currentLanguage, formatCount, formatPercent, t } from "../lib/i18n.js";
import { failed } from "../lib/inbox.js";
import { categoryOptions, teamOptions } from "../lib/desk.js";
import { useStore } from "../lib/store.js";
import { Dialog } from "../components/dialog.js";

const TABLES = ["summary", "volume_by_hour", "volume_by_day", "agents", "backlog"];

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Days from today in `timeZone` (the hub's [reports] zone, the days the API counts; the
// browser's own zone until the hub said which): a browser behind the hub's zone would
// otherwise end the default period on the hub's yesterday, leaving today's tickets out.
function daysFromToday(days, timeZone = undefined) {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  const d = new Date(`${today}T00:00:00`);
  d.setDate(d.getDate() + days);
  return isoDay(d);
}

function lastWeek(timeZone = undefined) {
  return { first: daysFromToday(-6, timeZone), last: daysFromToday(0, timeZone) };
}

// The API's period: from the first day's start to the day after the last (exclusive), as
// dates the hub reads in its [reports] timezone: the page, the API and the daily email agree.
function queryOf(filters) {
  const next = new Date(`${filters.last}T00:00:00`);
  next.setDate(next.getDate() + 1);
  const query = new URLSearchParams({ from: filters.first, to: isoDay(next) });
  for (const name of ["team", "channel", "category", "agent"]) if (filters[name]) query.set(name, filters[name]);
  return query;
}

let charts = null; // the ECharts module, once loaded
async function loadCharts() {
  if (!charts) {
    await import("../vendor/echarts/echarts.min.js"); // a UMD build: it sets globalThis.echarts
    charts = globalThis.echarts;
  }
  return charts;
}

function Chart({ id, option }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!option) return undefined;
    let chart = null;
    let gone = false;
    loadCharts().then((echarts) => {
      if (gone) return;
      chart = echarts.init(ref.current, null, { renderer: "canvas", locale: currentLanguage().startsWith("zh") ? "ZH" : "EN" });
      chart.setOption(option);
      ref.current.dataset.drawn = "true";
    }).catch(failed);
    return () => { gone = true; chart?.dispose(); };
  }, [JSON.stringify(option)]);
  return html`<div id=${id} class="chart" ref=${ref} role="img" aria-label=${option?.title?.text || ""}></div>`;
}

function bars(title, labels, values, type = "bar") {
  const rotated = labels.length > 24 || labels.some((label) => label.length > 4);
  return {
    animation: false, // drawn at once: what a screenshot or a quick look shows is the data
    title: { text: title, textStyle: { fontSize: 13 } },
    tooltip: { trigger: "axis" },
    grid: { left: 40, right: 10, top: 36, bottom: rotated ? 56 : 24 },
    // every label shown, turned when they are many or long (the backlog's ages) so none overlap
    xAxis: { type: "category", data: labels, axisLabel: { interval: labels.length <= 8 ? 0 : "auto", fontSize: 11, rotate: rotated ? 30 : 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type, data: values, name: t("reports.tickets") }],
  };
}

// A duration as precise as it needs: "18 秒", "1.5 分钟", "2 小时 5 分钟" (the agent's language).
export function formatDuration(value) {
  const unit = (n, name, digits = 0) => new Intl.NumberFormat(currentLanguage(), { style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: digits }).format(n);
  const total = Math.max(0, value);
  if (total < 60) return unit(Math.round(total), "second");
  if (total < 3600) return unit(Math.round(total / 6) / 10, "minute", 1);
  const minutes = Math.round(total / 60);
  const [hours, rest] = [Math.floor(minutes / 60), minutes % 60];
  return rest ? `${unit(hours, "hour")} ${unit(rest, "minute")}` : unit(hours, "hour");
}
const seconds = (value) => (value == null ? "—" : formatDuration(value));
const share = (value) => (value == null ? "—" : formatPercent(value));
const number = (value, digits = 2) => (value == null ? "—" : new Intl.NumberFormat(currentLanguage(), { maximumFractionDigits: digits }).format(value));

function Figures({ summary }) {
  const figures = [
    ["volume", formatCount(summary.volume)],
    ["first_response_p50_s", seconds(summary.first_response_p50_s)],
    ["first_response_p90_s", seconds(summary.first_response_p90_s)],
    ["resolution_p50_s", seconds(summary.resolution_p50_s)],
    ["resolution_p90_s", seconds(summary.resolution_p90_s)],
    ["sla_met", share(summary.sla_met)],
    ["reopen_rate", share(summary.reopen_rate)],
    ["deflection_rate", share(summary.deflection_rate)],
    ["csat_average", summary.csat_average == null ? "—" : `${number(summary.csat_average)} (${formatCount(summary.csat_responses)})`],
    ["qa_average", number(summary.qa_average, 1)],
    ["backlog", formatCount(summary.backlog)],
  ];
  return html`<dl id="report-figures" class="figures">${figures.map(([key, value]) => html`<div data-figure=${key}><dt>${t(`reports.figure.${key}`)}</dt><dd>${value}</dd></div>`)}</dl>`;
}

function AgentTable({ items }) {
  if (!items.length) return html`<p class="hint">${t("reports.no_agents")}</p>`;
  return html`<table id="report-agents" class="log">
    <thead><tr><th>${t("reports.agent")}</th><th>${t("reports.handled")}</th><th>${t("reports.replies")}</th><th>${t("reports.figure.first_response_p50_s")}</th><th>${t("reports.figure.resolution_p50_s")}</th><th>${t("reports.resolved")}</th><th>${t("reports.figure.csat_average")}</th></tr></thead>
    <tbody>${items.map((row) => html`<tr data-agent=${row.agent_id}><td>${row.name}</td><td>${formatCount(row.tickets_handled)}</td><td>${formatCount(row.replies)}</td>
      <td>${seconds(row.first_response_p50_s)}</td><td>${seconds(row.resolution_p50_s)}</td><td>${formatCount(row.resolved)}</td><td>${number(row.csat_average)}</td></tr>`)}</tbody></table>`;
}

export function Reports() {
  const s = useStore();
  const [filters, setFilters] = useState({ ...lastWeek(), team: "", channel: "", category: "", agent: "" });
  const [data, setData] = useState(null);
  const [problem, setProblem] = useState("");
  async function load(wanted = filters, opening = false) {
    // Said here in the agent's language; the hub refuses the same periods (422)
    if (!wanted.first || !wanted.last || wanted.first > wanted.last) { setProblem(t("reports.bad_period")); return; }
    const yearOn = new Date(`${wanted.first}T00:00:00`);
    yearOn.setFullYear(yearOn.getFullYear() + 1);
    if (new Date(`${wanted.last}T00:00:00`) >= yearOn) { setProblem(t("reports.too_long")); return; }
    const query = queryOf(wanted);
    try {
      const [summary, volume, agents, backlog] = await Promise.all(["summary", "volume", "agents", "backlog"].map((name) => api("GET", `/reports/${name}?${query}`)));
      const week = lastWeek(summary.timezone);
      if (opening && (week.first !== wanted.first || week.last !== wanted.last)) {  // the hub's days, not the browser's
        const next = { ...wanted, ...week };
        setFilters(next);
        return load(next);
      }
      setProblem("");
      setData({ summary, volume, agents, backlog, query: query.toString() });
    } catch (e) {
      if (e.status === 422 || e.status === 403) setProblem(e.message); else failed(e);
    }
  }
  useEffect(() => { load(filters, true); }, []);
  const set = (name) => (event) => { const next = { ...filters, [name]: event.target.value }; setFilters(next); load(next); };
  // a supervisor is offered their own teams and those teams' members (the summary's scope)
  const scope = data?.summary.scope || { teams: null, agents: null };
  const teams = teamOptions().filter(([id]) => scope.teams === null || scope.teams.includes(id));
  const agents = s.agents.filter((a) => scope.agents === null || scope.agents.includes(a.id));
  const zone = data?.summary.timezone || "";
  const exportLink = (table, format) => `/api/v1/reports/export?${data.query}&format=${format}${table ? `&table=${table}` : ""}`;
  return html`<${Dialog} id="reports" title=${t("reports.title")} wide=${true}>
    <div class="row filters report-filters" role="search">
      <label>${t("reports.from")} <input id="report-from" type="date" value=${filters.first} onChange=${set("first")} /></label>
      <label>${t("reports.to")} <input id="report-to" type="date" value=${filters.last} onChange=${set("last")} /></label>
      <label>${t("filter.team")} <select id="report-team" value=${filters.team} onChange=${set("team")}>
        <option value="">${t("filter.any_team")}</option>${teams.map(([id, label]) => html`<option value=${id}>${label}</option>`)}</select></label>
      <label>${t("filter.channel")} <select id="report-channel" value=${filters.channel} onChange=${set("channel")}>
        <option value="">${t("filter.any_channel")}</option>${s.channels.map((c) => html`<option value=${c}>${channelLabel(c)}</option>`)}</select></label>
      <label>${t("filter.category")} <select id="report-category" value=${filters.category} onChange=${set("category")}>
        <option value="">${t("filter.any_category")}</option>${categoryOptions().map(([id, label]) => html`<option value=${id}>${label}</option>`)}</select></label>
      <label>${t("reports.agent")} <select id="report-agent" value=${filters.agent} onChange=${set("agent")}>
        <option value="">${t("reports.any_agent")}</option>${agents.map((a) => html`<option value=${a.id}>${a.name || a.email}</option>`)}</select></label>
    </div>
    ${zone ? html`<p class="hint" id="report-zone">${t("reports.zone", { zone })}</p>` : null}
    ${problem ? html`<p id="report-problem" class="error" role="alert">${problem}</p>` : data ? html`
      <${Figures} summary=${data.summary} />
      <div class="charts">
        <${Chart} id="chart-hours" option=${bars(t("reports.by_hour"), data.volume.by_hour.map((r) => String(r.hour)), data.volume.by_hour.map((r) => r.tickets))} />
        <${Chart} id="chart-days" option=${bars(t("reports.by_day"), data.volume.by_day.map((r) => r.date.slice(5)), data.volume.by_day.map((r) => r.tickets), "line")} />
        <${Chart} id="chart-backlog" option=${bars(t("reports.backlog_ages"), data.backlog.by_age.map((r) => t(`reports.age.${r.age}`)), data.backlog.by_age.map((r) => r.tickets))} />
      </div>
      <h3>${t("reports.agents")}</h3>
      <${AgentTable} items=${data.agents.items} />
      <p class="exports">${t("reports.export")}:
        ${TABLES.map((table) => html` <a class="export" data-table=${table} href=${exportLink(table, "csv")} download>${t(`reports.table.${table}`)} (CSV)</a>`)}
        <a id="export-xlsx" class="export" href=${exportLink("", "xlsx")} download>${t("reports.all_tables")} (XLSX)</a></p>` : html`<p class="hint">${t("reports.loading")}</p>`}
  <//>`;
}
