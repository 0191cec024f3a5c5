// SLA clocks on a ticket (the API's `sla` member): the most pressing one as a badge in the
// list, every clock in the ticket's header. Remaining time is business time of the team.
import { html } from "../lib/html.js";
import { formatFull, formatSpan, t } from "../lib/i18n.js";

// The clocks worth showing: on a resolved or closed ticket only those that were met or missed
// (a clock waiting for a next customer message said "paused" beside "resolution met", a trial).
function shownClocks(sla, status) {
  const clocks = sla?.clocks || [];
  return status === "resolved" || status === "closed" ? clocks.filter((c) => c.met !== null) : clocks;
}

// Running clocks first (breached, then least time left); stopped ones after.
function pressing(sla, status) {
  const running = shownClocks(sla, status).filter((c) => c.met === null);
  return running.sort((a, b) => Number(b.breached) - Number(a.breached) || a.remaining_seconds - b.remaining_seconds)[0];
}

function level(clock) {
  if (clock.met === false || clock.breached) return "breached";
  if (clock.met === true) return "met";
  if (clock.paused) return "paused";
  return clock.percent >= 75 ? "warn" : "ok";
}

function label(clock) {
  const state = level(clock);
  if (state === "met") return t("sla.met");
  if (clock.met === false) return t("sla.missed");
  if (state === "paused") return t("sla.paused");
  if (state === "breached") return t("sla.overdue", { time: formatSpan(clock.remaining_seconds) });
  return t("sla.left", { time: formatSpan(clock.remaining_seconds) });
}

function title(clock) {
  const due = clock.due_at ? t("sla.due", { time: formatFull(clock.due_at) }) : "";
  return [t(`sla.kind.${clock.kind}`), due].filter(Boolean).join(" · ");
}

export function SlaBadge({ sla, status }) {
  const clock = pressing(sla, status);
  if (!clock) return null;
  return html`<span class="sla ${level(clock)}" title=${title(clock)}>${t(`sla.short.${clock.kind}`)} ${label(clock)}</span>`;
}

export function SlaClocks({ sla, status }) {
  const clocks = shownClocks(sla, status);
  if (!clocks.length) return null;
  return html`<ul class="sla-clocks" aria-label=${t("sla.label", { policy: sla.policy })}>
    ${clocks.map((clock) => html`<li key=${clock.kind} class="sla ${level(clock)}" data-kind=${clock.kind} title=${title(clock)}>
      <strong>${t(`sla.kind.${clock.kind}`)}</strong> ${label(clock)}${clock.due_at && clock.met === null && !clock.paused ? html` <span class="due">${t("sla.due", { time: formatFull(clock.due_at) })}</span>` : null}
    </li>`)}
  </ul>`;
}
