// Beside a datetime-local field: the zone its time is read in (the browser's, which may not
// be the desk's: a trial's agent could not tell in which zone a call's times were taken).
import { html } from "../lib/html.js";
import { localZone, t } from "../lib/i18n.js";

export function ZoneHint() {
  return html`<small class="hint zone-hint">${t("time.zone_hint", { zone: localZone() })}</small>`;
}
