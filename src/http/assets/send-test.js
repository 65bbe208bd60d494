// The editor's "Send a test to me" form.

import { api } from "./api.js";
import { field, h } from "./dom.js";
import { channelLabel } from "./format.js";
import { flash, report } from "./toast.js";

export function sendTestForm(ed) {
  const to = h("input", { id: "test-to", type: "text", autocomplete: "email", required: true, spellcheck: "false" });
  const button = h("button", { type: "submit", class: "button-secondary" }, "Send test");
  const result = h("p", { id: "send-test-result", class: "send-test-result" });
  const form = h(
    "form",
    { id: "send-test", class: "send-test panel", "aria-labelledby": "send-test-heading", novalidate: true },
    h("h2", { id: "send-test-heading" }, "Send a test to me"),
    h(
      "p",
      {},
      "Sends this message with an example order to you. It is marked as a test and never counted as a customer message. ",
      "It uses the text in force, not unsaved changes or a draft: publish first to test your edits. ",
      "The channel and language follow the preview settings.",
    ),
    field("Your email address or phone number", to),
    h("div", { class: "actions" }, button),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const address = to.value.trim();
    result.textContent = "";
    if (!address) {
      result.textContent = "Please enter your email address or phone number.";
      to.focus();
      return;
    }
    button.disabled = true;
    try {
      const res = await api("POST", "/api/templates/test", {
        template: ed.detail.template,
        channel: ed.channel.value,
        locale: ed.locale.value,
        to: address,
      });
      const where = `Test ${channelLabel(ed.channel.value).toLowerCase() === "sms" ? "SMS" : "email"} sent to ${address} through ${res?.provider ?? "the provider"}${res?.id ? ` (reference ${res.id})` : ""}.`;
      result.textContent = where;
      flash(where);
    } catch (err) {
      if (err.handled) return;
      result.textContent = `The test was not sent: ${err.message}`;
      report(err, "The test was not sent");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
