// A modal <dialog>: opened on mount with the focus on its autofocus field, Escape and the close
// button close it, focus returns to where it was.
import { html, useEffect, useRef } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { update } from "../lib/store.js";

export function Dialog({ id, title, children, wide }) {
  const ref = useRef(null);
  useEffect(() => {
    const before = document.activeElement;
    ref.current.showModal();
    // The field marked autofocus (a merge's search), not the × button: the agent came to type.
    ref.current.querySelector("[autofocus]")?.focus();
    return () => before?.focus?.();
  }, []);
  return html`<dialog id=${id} ref=${ref} class=${wide ? "wide" : ""} aria-labelledby="${id}-title" onClose=${() => update({ dialog: null })}>
    <header class="dialog-head"><h2 id="${id}-title">${title}</h2>
      <button type="button" class="close" aria-label=${t("dialog.close")} onClick=${() => ref.current.close()}>×</button></header>
    ${children}
  </dialog>`;
}
