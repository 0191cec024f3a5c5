import { html } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { Dialog } from "./dialog.js";

export const SHORTCUTS = [
  ["j / ↓", "keys.next"], ["k / ↑", "keys.previous"], ["Enter", "keys.open"], ["r", "keys.reply"], ["n", "keys.note"],
  ["e", "keys.resolve"], ["a", "keys.assign_me"], ["/", "keys.search"], ["?", "keys.help"], ["c", "keys.call"], ["Ctrl+Enter", "keys.send"], ["Esc", "keys.escape"],
];

export function Shortcuts() {
  return html`<${Dialog} id="shortcuts" title=${t("keys.title")}>
    <table class="keys"><tbody>
      ${SHORTCUTS.map(([key, label]) => html`<tr><th scope="row"><kbd>${key}</kbd></th><td>${t(label)}</td></tr>`)}
    </tbody></table>
  <//>`;
}
