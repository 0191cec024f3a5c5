// A modal <dialog>: opened on mount with the focus on its autofocus field, focus returns to
// where it was. Escape in a field leaves the field (README: "Esc leaves a field or closes a
// dialog"); Escape elsewhere and the close button close it, after asking when `unsaved()` says
// there is work that closing would lose (an article's edit).
import { html, useEffect, useRef } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { update } from "../lib/store.js";

// Where Esc leaves a field: a text to type in or a list to pick from (not a checkbox or a button).
const isField = (el) => /^(TEXTAREA|SELECT)$/.test(el.tagName)
  || (el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset|file|image)$/.test(el.type));

export function Dialog({ id, title, children, wide, unsaved }) {
  const ref = useRef(null);
  const mayClose = () => !unsaved?.() || window.confirm(t("dialog.discard"));
  // On keydown, before the browser's close request: a cancelled keydown sends none.
  function onKeyDown(event) {
    // a picker inside took it; or it cancels an input method's candidates (pinyin), not the dialog
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing || event.keyCode === 229) return;
    event.preventDefault(); // this dialog decides, not the browser's close request
    if (isField(event.target)) ref.current.focus(); // out of the field, still in the dialog
    else if (mayClose()) ref.current.close();
  }
  // The browser's own close request (Esc with the focus outside the dialog's content).
  function onCancel(event) {
    if (!mayClose()) event.preventDefault();
  }
  useEffect(() => {
    const before = document.activeElement;
    ref.current.showModal();
    // The field marked autofocus (a merge's search), not the × button: the agent came to type.
    ref.current.querySelector("[autofocus]")?.focus();
    return () => before?.focus?.();
  }, []);
  return html`<dialog id=${id} ref=${ref} class=${wide ? "wide" : ""} aria-labelledby="${id}-title" tabIndex="-1"
    onKeyDown=${onKeyDown} onCancel=${onCancel} onClose=${() => update({ dialog: null })}>
    <header class="dialog-head"><h2 id="${id}-title">${title}</h2>
      <button type="button" class="close" aria-label=${t("dialog.close")} onClick=${() => mayClose() && ref.current.close()}>×</button></header>
    ${children}
  </dialog>`;
}
