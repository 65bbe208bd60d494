// The Suppressions section: the contacts amends sends nothing to on a channel (bounced, marked
// as spam, replied STOP, or suppressed by a person), adding one, and lifting one. Contacts are
// listed masked; the one a person types goes to the server in the request body only.

import { api } from "./api.js";
import { dataTable, empty, field, h, loadingText, selectBox } from "./dom.js";
import { channelLabel, timeEl, words } from "./format.js";
import { mount } from "./page.js";
import { flash } from "./toast.js";

const CHANNELS = [
  { value: "email", label: "Email" },
  { value: "sms", label: "SMS" },
];

export async function viewSuppressions(route, isCurrent) {
  const list = h("div", { id: "suppression-list" }, loadingText());
  const channel = selectBox("suppression-channel", CHANNELS, "email");
  const contact = h("input", { id: "suppression-contact", type: "text", autocomplete: "off", required: true });
  const note = h("input", { id: "suppression-note", type: "text", autocomplete: "off", maxlength: "500" });
  const problem = h("p", { class: "form-error", id: "suppression-error", role: "alert" });
  const addButton = h("button", { type: "submit", id: "suppression-add" }, "Suppress");
  const liftButton = h("button", { type: "button", id: "suppression-lift", class: "button-secondary" }, "Lift");
  const form = h(
    "form",
    { class: "panel", id: "suppression-form", novalidate: true },
    h("h2", {}, "Suppress or lift a contact"),
    field("Channel", channel),
    field("Email address or phone number", contact, "Phone numbers in international form, e.g. +34600111222."),
    field("Note", note, "Why, in a few words (kept with the suppression; for Suppress only)."),
    problem,
    h("div", { class: "actions" }, addButton, liftButton),
  );
  async function change(path, body, done) {
    problem.textContent = "";
    if (!contact.value.trim()) {
      problem.textContent = "Please give the email address or phone number.";
      contact.focus();
      return;
    }
    addButton.disabled = liftButton.disabled = true;
    try {
      const res = await api("POST", path, body);
      flash(`${channelLabel(res?.channel ?? body.channel)} to ${res?.contact ?? "that contact"} ${done}.`);
      contact.value = "";
      note.value = "";
      await load(list);
    } catch (err) {
      if (err.handled) return;
      problem.textContent = err.message;
    } finally {
      addButton.disabled = liftButton.disabled = false;
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    change(
      "/api/suppressions",
      { channel: channel.value, contact: contact.value.trim(), note: note.value.trim() || null },
      "is suppressed",
    );
  });
  liftButton.addEventListener("click", () => {
    if (!confirm("Allow messages to this contact again? Lift a suppression only when the customer asked for it.")) return;
    change("/api/suppressions/lift", { channel: channel.value, contact: contact.value.trim() }, "is allowed again");
  });
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Suppressions"),
      h("p", { class: "lead" }, "Contacts amends sends nothing to on a channel: addresses that bounced, customers who marked a message as spam or replied STOP, and contacts a person suppressed. Every change is recorded under your name."),
      form,
      list,
    ),
    "Suppressions",
  );
  if (isCurrent()) await load(list);
}

async function load(list) {
  try {
    const data = await api("GET", "/api/suppressions?limit=500");
    if (!list.isConnected) return;
    const rows = data?.suppressions ?? [];
    list.replaceChildren(
      rows.length
        ? dataTable({
            caption: "Suppressions in force, newest first",
            id: "suppressions",
            rows,
            columns: [
              { label: "Contact", rowHeader: true, cell: (s) => s.contact },
              { label: "Channel", cell: (s) => channelLabel(s.channel) },
              { label: "Why", cell: (s) => words(s.reason) },
              { label: "By", cell: (s) => s.source },
              { label: "Note", cell: (s) => s.detail ?? "—" },
              { label: "Since", cell: (s) => timeEl(s.updated_at) },
            ],
          })
        : empty("No contact is suppressed."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Suppressions could not be loaded: ${err.message}`));
  }
}
