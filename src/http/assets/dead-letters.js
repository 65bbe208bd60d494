// The Dead letters section: order events that could not be processed, and replaying them.

import { api } from "./api.js";
import { dataTable, empty, h, loadingText } from "./dom.js";
import { fmtBytes, plural } from "./format.js";
import { mount } from "./page.js";
import { flash, report } from "./toast.js";

export async function viewDeadLetters(route, isCurrent) {
  const list = h("div", { id: "dead-letter-list" }, loadingText());
  const replayAll = h("button", { type: "button", id: "replay-all", class: "button-secondary", hidden: true }, "Replay all");
  const queue = h("p", { class: "muted", id: "dead-letter-queue" });
  replayAll.addEventListener("click", () => replay(list, replayAll, queue, { all: true }));
  mount(
    h(
      "div",
      { class: "page" },
      h("h1", {}, "Dead letters"),
      h("p", { class: "lead" }, "Order events amends could not process, for example because the order system sent something malformed. Replay sends a message back to be processed again, once the problem has been fixed."),
      queue,
      h("div", { class: "actions" }, replayAll),
      list,
    ),
    "Dead letters",
  );
  if (isCurrent()) await loadDeadLetters(list, replayAll, queue);
}

async function loadDeadLetters(list, replayAll, queue) {
  // Two quick replays each reload the list: only the newest answer may draw it.
  const seq = (list.dataset.seq = String(Number(list.dataset.seq ?? 0) + 1));
  try {
    const data = await api("GET", "/api/dead-letters?limit=100");
    if (!list.isConnected || list.dataset.seq !== seq) return;
    const letters = data?.dead_letters ?? [];
    queue.textContent = data?.queue ? `Queue: ${data.queue}` : "";
    replayAll.hidden = letters.length === 0;
    replayAll.dataset.count = String(letters.length);
    list.replaceChildren(
      letters.length
        ? dataTable({
            caption: "Messages waiting in the dead-letter queue",
            id: "dead-letters",
            rows: letters,
            columns: [
              { label: "Message", rowHeader: true, cell: (d) => (d.id ? h("code", {}, d.id) : h("span", { class: "muted" }, "no id")) },
              { label: "Routing key", cell: (d) => d.routing_key ?? "—" },
              { label: "What went wrong", cell: (d) => d.error ?? "—" },
              { label: "Size", cell: (d) => fmtBytes(d.size) },
              {
                label: "Action",
                cell: (d) =>
                  d.id
                    ? h(
                        "button",
                        {
                          type: "button",
                          class: "button-quiet",
                          "aria-label": `Replay message ${d.id}`,
                          onclick: () => replay(list, replayAll, queue, { id: d.id }),
                        },
                        "Replay",
                      )
                    : h("span", { class: "muted" }, "Only with Replay all"),
              },
            ],
          })
        : empty("The dead-letter queue is empty. Nothing to fix."),
    );
  } catch (err) {
    if (err.handled || !list.isConnected || list.dataset.seq !== seq) return;
    list.replaceChildren(h("p", { class: "form-error" }, `Dead letters could not be loaded: ${err.message}`));
  }
}

async function replay(list, replayAll, queue, body) {
  if (body.all) {
    const count = Number(replayAll.dataset.count ?? 0);
    const question = `Send all ${plural(count, "message")} back to be processed again? Do this only after the problem was fixed, or they come straight back here.`;
    if (!confirm(question)) return;
  }
  replayAll.disabled = true;
  try {
    const res = await api("POST", "/api/dead-letters/replay", body);
    flash(`${plural(res?.replayed ?? 0, "message")} sent back to be processed again.`);
    await loadDeadLetters(list, replayAll, queue);
  } catch (err) {
    report(err, "Nothing was replayed");
  } finally {
    replayAll.disabled = false;
  }
}
