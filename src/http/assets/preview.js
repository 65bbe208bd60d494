// The editor's preview pane: the email or SMS as rendered, or the last one that worked.

import { field, h, viewToggle } from "./dom.js";
import { plural } from "./format.js";

export function previewPane(ed) {
  const p = {};
  p.subject = h("span", { id: "preview-subject" });
  p.subjectRow = h("p", { class: "preview-subject" }, h("span", { class: "preview-label" }, "Subject: "), p.subject);
  p.frame = h("iframe", { id: "preview-frame", sandbox: "", title: "Email preview", referrerpolicy: "no-referrer", class: "email-frame" });
  p.text = h("pre", { id: "preview-text", class: "message-text preview-text" });
  p.toggle = viewToggle(p.frame, p.text, "Show the email as", (textPart) => {
    ed.textPart = textPart;
  });
  p.smsInfo = h("p", { id: "preview-sms-info", class: "sms-info" });
  p.smsHint = h("p", { class: "hint", id: "preview-sms-hint" });
  p.parts = h("ol", { class: "sms-parts", "aria-label": "How the SMS is split" });
  p.note = h("p", { id: "preview-note", class: "preview-note", hidden: true });
  p.body = h("div", { class: "preview-body" }, p.subjectRow, p.toggle, p.frame, p.text, p.smsInfo, p.smsHint, p.parts);
  p.root = h("div", { id: "preview", class: "preview" }, p.note, p.body);
  p.state = h("p", { id: "preview-state", class: "muted preview-state" });
  ed.previewEls = p;
  showPreview(ed, null, false);
  return h(
    "section",
    { class: "editor-preview", "aria-labelledby": "preview-heading" },
    h("h2", { id: "preview-heading" }, "Preview"),
    h(
      "div",
      { class: "preview-controls" },
      field("Example order", ed.sample),
      field("Language", ed.locale),
      field("Channel", ed.channel),
    ),
    p.state,
    p.root,
  );
}

export function showPreview(ed, message, stale) {
  const p = ed.previewEls;
  ed.shown = { message, stale };
  p.root.classList.toggle("is-stale", stale && Boolean(message));
  p.note.hidden = !stale;
  p.note.textContent = stale
    ? message
      ? "The text has errors, so this is the last preview that worked. Fix the problems to see your changes."
      : "No preview yet: fix the problems in the text first."
    : "";
  p.text.textContent = message?.text ?? "";
  p.parts.replaceChildren();
  p.smsHint.textContent = "";
  if (!message) {
    for (const el of [p.subjectRow, p.toggle, p.frame, p.text, p.smsInfo]) el.hidden = true;
    p.smsInfo.textContent = "";
    return;
  }
  if (message.sms) showSmsPreview(p, message);
  else showEmailPreview(ed, p, message);
}

function showSmsPreview(p, message) {
  const sms = message.sms;
  p.subjectRow.hidden = true;
  p.toggle.hidden = true;
  p.frame.hidden = true;
  p.text.hidden = false;
  p.smsInfo.hidden = false;
  p.subject.textContent = "";
  p.smsInfo.textContent = smsSummary(sms);
  if (sms.encoding === "UCS-2") {
    p.smsHint.textContent = "A character outside the basic SMS alphabet makes every part hold 70 characters instead of 160.";
  }
  const parts = sms.parts ?? [];
  if (parts.length > 1) {
    p.parts.replaceChildren(...parts.map((part, i) => h("li", {}, h("span", { class: "muted" }, `Part ${i + 1}: `), part)));
  }
}

function smsSummary(sms) {
  return `${plural(sms.characters, "character")} · ${plural(sms.segments, "segment")} · ${sms.encoding}`;
}

function showEmailPreview(ed, p, message) {
  p.smsInfo.hidden = true;
  p.smsInfo.textContent = "";
  p.subjectRow.hidden = false;
  p.subject.textContent = message.subject ?? "—";
  const hasHtml = message.html != null;
  p.toggle.hidden = !hasHtml;
  if (hasHtml) {
    if (p.frame.srcdoc !== message.html) p.frame.srcdoc = message.html;
    p.toggle.show(ed.textPart);
  } else {
    p.frame.hidden = true;
    p.text.hidden = false;
  }
}
