// The editor's version history: the table of versions, and reading an old one.

import { api } from "./api.js";
import { badge, dataTable, h } from "./dom.js";
import { fmtDate, timeEl, words } from "./format.js";
import { flash, report } from "./toast.js";

export function historySection(ed) {
  ed.historyBody = h("div", { class: "history-body" });
  ed.versionView = h("section", { id: "version-view", class: "version-view panel", hidden: true, "aria-labelledby": "version-view-title" });
  return h(
    "section",
    { id: "history", class: "history", "aria-labelledby": "history-heading" },
    h("h2", { id: "history-heading" }, "History"),
    ed.historyBody,
    ed.versionView,
  );
}

// onRestore(version) comes from the editor, which owns publishing.
export function renderHistory(ed, onRestore) {
  const d = ed.detail;
  const versions = d.versions ?? [];
  const inForce = d.in_force?.version ?? null;
  const parts = [];
  if (inForce == null) parts.push(h("p", { class: "in-force-note" }, "The shipped file is in force."));
  if (versions.length) {
    parts.push(
      dataTable({
        caption: "Versions of this template, newest first",
        id: "history-table",
        className: "history-table",
        rows: versions,
        columns: [
          { label: "Version", rowHeader: true, cell: (v) => `Version ${v.version}` },
          { label: "Status", cell: (v) => versionStatus(v, inForce) },
          { label: "Author", cell: (v) => v.author ?? "—" },
          { label: "When", cell: (v) => timeEl(v.published_at ?? v.created_at) },
          { label: "Note", cell: (v) => v.note || "—" },
          { label: "Actions", cell: (v) => versionActions(ed, v, inForce, onRestore) },
        ],
      }),
    );
  } else {
    parts.push(h("p", { class: "muted" }, "Nobody has edited this template yet."));
  }
  if (d.shipped != null) {
    parts.push(
      h(
        "p",
        {},
        h(
          "button",
          { type: "button", class: "button-quiet", id: "view-shipped", onclick: () => showVersionText(ed, "The shipped file", d.shipped) },
          "View the shipped file",
        ),
        inForce == null
          ? null
          : h(
              "button",
              { type: "button", class: "button-secondary restore", id: "restore-shipped", "data-version": 0, onclick: () => onRestore(0) },
              "Restore the shipped text",
            ),
      ),
    );
  }
  ed.historyBody.replaceChildren(...parts);
}

function versionStatus(v, inForce) {
  if (v.version === inForce) return badge("in force", "ok");
  if (v.status === "draft") return badge("draft", "warn");
  if (v.status === "published") return badge("published", "info");
  return badge(words(v.status), "neutral");
}

function versionActions(ed, v, inForce, onRestore) {
  const view = h(
    "button",
    { type: "button", class: "button-quiet", "aria-label": `View version ${v.version}`, onclick: () => viewVersion(ed, v.version) },
    "View",
  );
  const restorable = (v.status === "published" || v.status === "retired") && v.version !== inForce;
  const restore = restorable
    ? h(
        "button",
        {
          type: "button",
          class: "button-secondary restore",
          "data-version": v.version,
          "aria-label": `Restore version ${v.version}`,
          onclick: () => onRestore(v.version),
        },
        "Restore",
      )
    : null;
  return h("div", { class: "actions actions-tight" }, view, restore);
}

async function viewVersion(ed, version) {
  try {
    const v = await api("GET", `${ed.base}/versions/${encodeURIComponent(version)}`);
    if (!ed.source.isConnected) return;
    const who = [v.author, v.created_at ? fmtDate(v.created_at) : null].filter(Boolean).join(", ");
    showVersionText(ed, `Version ${v.version} (${v.status})${who ? ` · ${who}` : ""}`, v.body ?? "");
  } catch (err) {
    report(err, `Version ${version} could not be loaded`);
  }
}

function showVersionText(ed, title, body) {
  const heading = h("h3", { id: "version-view-title", tabindex: "-1" }, title);
  const copy = h("button", { type: "button", class: "button-secondary", id: "version-copy" }, "Copy into the editor");
  const close = h("button", { type: "button", class: "button-quiet", id: "version-close" }, "Close");
  copy.addEventListener("click", () => {
    if (ed.source.value !== ed.saved && !confirm("Replace the text in the editor with this one? Your unsaved changes will be lost.")) return;
    ed.source.value = body;
    ed.source.dispatchEvent(new Event("input"));
    ed.source.focus();
    ed.source.setSelectionRange(0, 0);
    flash("Copied into the editor. Save it as a draft or publish it when you are ready.", "info");
  });
  close.addEventListener("click", () => {
    ed.versionView.hidden = true;
    ed.versionView.replaceChildren();
    ed.historyBody.querySelector("button")?.focus();
  });
  ed.versionView.replaceChildren(
    h("div", { class: "version-view-head" }, heading, h("div", { class: "actions actions-tight" }, copy, close)),
    h("p", { class: "muted" }, "Read only. To use this text again, restore the version or copy it into the editor."),
    h("pre", { id: "version-text", class: "code version-text" }, body),
  );
  ed.versionView.hidden = false;
  heading.focus();
}
