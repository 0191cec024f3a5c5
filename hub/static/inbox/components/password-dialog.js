// "Change password": the signed-in agent's own, with the current one. The hub ends every
// session of theirs on success (a stolen cookie stops working), so the inbox goes back to the
// sign-in form and says why.
import { api } from "../lib/api.js";
import { html, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { codeText, signedOut } from "../lib/inbox.js";
import { update } from "../lib/store.js";
import { Dialog } from "./dialog.js";

export const MIN_PASSWORD_CHARS = 10; // hub/agents.py: the one rule a new password meets

// What is wrong with the form before it is sent, in the agent's language, or "".
function refusal({ current_password: current, new_password: chosen, repeated }) {
  if (!current) return t("password.current_missing");
  if (chosen.length < MIN_PASSWORD_CHARS) return t("password.too_short", { count: MIN_PASSWORD_CHARS });
  if (chosen !== repeated) return t("password.mismatch");
  if (chosen === current) return t("password.unchanged");
  return "";
}

export function PasswordDialog() {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    const form = Object.fromEntries(new FormData(event.target));
    const wrong = refusal(form);
    setError(wrong);
    if (wrong) return;
    setBusy(true);
    try {
      await api("POST", "/me/password", { current_password: form.current_password, new_password: form.new_password });
    } catch (e) {
      setBusy(false);
      setError(codeText(e));
      return;
    }
    update({ loginNotice: t("password.changed") });
    signedOut();
  }
  return html`<${Dialog} id="password-dialog" title=${t("password.title")}>
    <form id="password-form" class="stack" onSubmit=${submit} novalidate>
      <label class="field">${t("password.current")}
        <input name="current_password" type="password" autocomplete="current-password" autofocus /></label>
      <label class="field">${t("password.new", { count: MIN_PASSWORD_CHARS })}
        <input name="new_password" type="password" autocomplete="new-password" /></label>
      <label class="field">${t("password.repeat")}
        <input name="repeated" type="password" autocomplete="new-password" /></label>
      <p class="hint">${t("password.ends_sessions")}</p>
      <p id="password-error" class="error" role="alert">${error}</p>
      <div class="row end"><button type="submit" id="password-save" disabled=${busy}>${t("password.save")}</button></div>
    </form>
  <//>`;
}
