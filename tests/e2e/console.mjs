// The coordinator's console in a real browser, against a running amends daemon: sign in, edit
// the Spanish delay email, see the preview change, fail to publish a broken text, publish,
// publish an order event and see the new text in the message sent, roll back, see the old text
// again; an order placed with a promise shows on the Watch page. Run by tests/it/browser.rs, which starts the daemon and passes:
//   AMENDS_E2E_URL       the daemon's base URL
//   AMENDS_E2E_TOKEN     its admin token
//   AMENDS_E2E_BIN       the amends binary (to publish sample events), with AMENDS_* for it
//   AMENDS_E2E_SHOTS     a directory for screenshots of the main pages (optional)
//   CHROMIUM             the browser (default /usr/bin/chromium)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.AMENDS_E2E_URL;
const token = process.env.AMENDS_E2E_TOKEN;
const bin = process.env.AMENDS_E2E_BIN;
const shots = process.env.AMENDS_E2E_SHOTS;
assert.ok(base && token && bin, "AMENDS_E2E_URL, AMENDS_E2E_TOKEN and AMENDS_E2E_BIN are required");

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const FILE = "order-delayed/email.es.hbs";
const SHIPPED = "Tu pedido llega con retraso";
const EDITED = "Perdona el retraso de tu pedido";
const WAIT = { timeout: 30_000 };

function step(what) {
  console.log(`- ${what}`);
}

async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `console-${name}.png`) });
}

// Publishes the sample delay (Ana, Spanish, a fresh order) the way a newcomer would.
function publishSampleDelay() {
  const out = execFileSync(bin, ["publish", "--sample", "order.delayed"], { encoding: "utf8" });
  const id = /id=(\S+)/.exec(out)?.[1];
  assert.ok(id, `no event id in: ${out}`);
  return id;
}

// Publishes an order placed now that promises delivery in a month (a fresh order, built from the
// order.placed sample): amends watches it and sends nothing. Its order id.
function publishPlacedOrder() {
  const sample = new URL("../../crates/amends-core/src/incident/samples/order.placed.json", import.meta.url);
  const event = JSON.parse(readFileSync(sample, "utf8"));
  const order = `A-W${Date.now()}`;
  event.id = randomUUID();
  event.subject = order;
  event.time = new Date().toISOString();
  event.data.order.id = order;
  event.data.order.number = `#${order.slice(2)}`;
  event.data.promise = { deliver_by: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10) };
  const dir = mkdtempSync(join(tmpdir(), "amends-e2e-"));
  try {
    const file = join(dir, "order-placed.json");
    writeFileSync(file, JSON.stringify(event));
    execFileSync(bin, ["publish", file], { encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return order;
}

// Opens the newest incident in Activity once it has its email sent, and returns the email's
// heading as the customer got it.
async function newestEmailHeading(page) {
  await page.goto(`${base}/#/activity`);
  const row = page.locator("#incidents tbody tr").first();
  await assertEventually(async () => {
    // The list is read when the page opens: reload to see what arrived since.
    await page.reload();
    await page.locator("#overview").waitFor(WAIT);
    return (await row.count()) > 0 && /Sent/.test(await row.innerText());
  }, "the newest incident's email to be sent");
  await row.locator("a").first().click();
  const message = page.locator("article.message", { hasText: "Email" }).first();
  await message.waitFor(WAIT);
  const heading = page.frameLocator("article.message iframe").first().locator("h1");
  return (await heading.innerText(WAIT)).trim();
}

// Waits until the daemon has put `n` published sets of texts in force (it counts them), so an
// event published next is rendered with the latest.
async function templatesReloaded(n) {
  await assertEventually(async () => {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const count = /^amends_template_reloads_total (\d+)/m.exec(metrics)?.[1];
    return Number(count) >= n;
  }, `reload ${n} of the templates`);
}

async function assertEventually(check, what, deadline = 60_000) {
  const start = Date.now();
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() - start < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => d.accept());

  step("sign in");
  await page.goto(`${base}/`);
  await page.getByLabel("Your name").fill("Marta");
  await page.getByLabel("Admin token").fill("not the token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#sign-in-error").filter({ hasText: /./ }).waitFor(WAIT);
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#user-name", { hasText: "Marta" }).waitFor(WAIT);

  step("a first delay is sent with the shipped text");
  publishSampleDelay();
  assert.equal(await newestEmailHeading(page), SHIPPED);
  await shot(page, "incident");

  step("open the Spanish delay email from the template list");
  await page.goto(`${base}/#/templates`);
  await page.locator(`a[href="#/templates/order-delayed/email.es.hbs"]`).click();
  const source = page.locator("#template-source");
  await source.waitFor(WAIT);
  const shipped = await source.inputValue();
  assert.ok(shipped.includes(SHIPPED));
  const previewHeading = page.frameLocator("#preview-frame").locator("h1");
  await assertEventually(async () => (await previewHeading.innerText()).includes(SHIPPED), "the preview");

  step("edit it and see the preview change");
  await source.fill(shipped.replace(SHIPPED, EDITED));
  await assertEventually(async () => (await previewHeading.innerText()).includes(EDITED), "the edited preview");
  await shot(page, "editor");

  step("a text with an error shows its line and cause, and cannot be published");
  const broken = `${shipped.replace(SHIPPED, EDITED)}\n{{order.nonexistent}}\n`;
  const brokenLine = broken.split("\n").length - 1;
  await source.fill(broken);
  const diagnostics = page.locator("#diagnostics");
  await diagnostics.filter({ hasText: "order.nonexistent" }).waitFor(WAIT);
  assert.match(await diagnostics.innerText(), new RegExp(`Line ${brokenLine}`));
  assert.ok(await page.locator("#publish").isDisabled(), "Publish must be disabled while the text has errors");
  await diagnostics.scrollIntoViewIfNeeded();
  await shot(page, "editor-error");
  // The server refuses it too, whatever a page does.
  const refused = await page.request.post(`${base}/api/templates/${FILE}/publish`, {
    headers: { authorization: `Bearer ${token}` },
    data: { body: broken },
  });
  assert.equal(refused.status(), 422);

  step("publish the good text");
  await source.fill(shipped.replace(SHIPPED, EDITED));
  await page.locator("#edit-note").fill("A warmer heading");
  await assertEventually(async () => !(await page.locator("#publish").isDisabled()), "Publish to be enabled");
  await page.locator("#publish").click();
  await page.locator("#status", { hasText: "Published version 1" }).waitFor(WAIT);
  await page.locator("#history-table", { hasText: "A warmer heading" }).waitFor(WAIT);

  step("the next customer gets the new text");
  await templatesReloaded(1);
  publishSampleDelay();
  await assertEventually(async () => (await newestEmailHeading(page)) === EDITED, "the new text in a sent email");

  step("roll back to the shipped text, and the next customer gets it again");
  await page.goto(`${base}/#/templates/order-delayed/email.es.hbs`);
  await page.locator("#restore-shipped").click();
  await page.locator("#status", { hasText: "restored as version 2" }).waitFor(WAIT);
  await page.locator("#history-table").waitFor(WAIT);
  await templatesReloaded(2);
  publishSampleDelay();
  await assertEventually(async () => (await newestEmailHeading(page)) === SHIPPED, "the old text in a sent email");

  step("an order placed with a promise shows on the Watch page");
  const placed = publishPlacedOrder();
  await page.goto(`${base}/#/watch`);
  const watched = page.locator("#watches tbody tr", { hasText: placed });
  await assertEventually(async () => {
    // The list is read when the page opens: reload to see what arrived since.
    await page.reload();
    await page.locator("#watch-counts dl").waitFor(WAIT);
    return (await watched.count()) > 0;
  }, "the placed order on the Watch page");
  assert.match(await watched.innerText(), /Watching/);
  assert.ok(Number(await page.locator("#watch-count-watching .tile-value").innerText()) >= 1, "the watching count");

  step("the other pages open");
  for (const [route, ready, name] of [
    ["#/activity", "#incidents", "activity"],
    ["#/templates", `a[href="#/templates/order-delayed/email.es.hbs"]`, "templates"],
    ["#/compensation", "#ledger", "compensation"],
    ["#/escalations", "#escalation-list", "escalations"],
    ["#/watch", "#watch-counts dl", "watch"],
    ["#/dead-letters", "#dead-letter-queue", "dead-letters"],
    ["#/messages/unknown", "#attention-list", "unknown-outcomes"],
    ["#/suppressions", "#suppression-form", "suppressions"],
    ["#/audit", "#audit", "audit"],
  ]) {
    await page.goto(`${base}/${route}`);
    await page.locator(ready).first().waitFor(WAIT);
    await shot(page, name);
  }
  step("the audit record shows what Marta did");
  await page.goto(`${base}/#/audit`);
  await page.locator("#audit", { hasText: "Template published" }).waitFor(WAIT);
  const published = page.locator("#audit tr", { hasText: "Template published" }).first();
  assert.match(await published.innerText(), /Marta/);
  assert.match(await published.innerText(), /order-delayed\/email\.es\.hbs/);

  step("suppress a contact and lift it again");
  await page.goto(`${base}/#/suppressions`);
  await page.getByLabel("Email address or phone number").fill("Ana.Garcia@example.com");
  await page.getByLabel("Note").fill("asked us to stop");
  await page.locator("#suppression-add").click();
  await page.locator("#suppressions", { hasText: "a***@example.com" }).waitFor(WAIT);
  assert.ok(!(await page.locator("#suppressions").innerText()).includes("Ana.Garcia"), "contacts are listed masked");
  await page.getByLabel("Email address or phone number").fill("ana.garcia@example.com");
  await page.locator("#suppression-lift").click();
  await page.locator("#suppression-list", { hasText: "No contact is suppressed" }).waitFor(WAIT);

  step("no serious accessibility problem on any page (axe-core)");
  // A context of its own that lets the checker's script in past the console's CSP.
  const audit = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 860 } });
  const checked = await audit.newPage();
  await checked.goto(`${base}/`);
  await checked.getByLabel("Your name").fill("Marta");
  await checked.getByLabel("Admin token").fill(token);
  await checked.getByRole("button", { name: "Sign in" }).click();
  await checked.locator("#incidents").waitFor(WAIT);
  const problems = [];
  for (const [route, ready] of [
    ["#/activity", "#incidents"],
    ["#/templates", `a[href="#/templates/order-delayed/email.es.hbs"]`],
    ["#/templates/order-delayed/email.es.hbs", "#preview-frame"],
    ["#/compensation", "#ledger"],
    ["#/escalations", "#escalation-list"],
    ["#/watch", "#watch-counts dl"],
    ["#/dead-letters", "#dead-letter-queue"],
    ["#/suppressions", "#suppression-form"],
    ["#/audit", "#audit"],
  ]) {
    await checked.goto(`${base}/${route}`);
    await checked.locator(ready).first().waitFor(WAIT);
    await checked.addScriptTag({ path: AXE });
    // The email preview is the customer's message, checked on its own terms: only the console.
    const result = await checked.evaluate(() => globalThis.axe.run(document, { exclude: [["iframe"]] }));
    assert.ok(result.passes.length > 10, `axe checked too little on ${route}`);
    for (const v of result.violations.filter((v) => ["serious", "critical"].includes(v.impact))) {
      problems.push(`${route}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    }
  }
  await audit.close();
  assert.deepEqual(problems, [], "accessibility problems");

  step("sign out everywhere ends the other browser's session too");
  const elsewhere = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const other = await elsewhere.newPage();
  await other.goto(`${base}/`);
  await other.getByLabel("Your name").fill("Marta");
  await other.getByLabel("Admin token").fill(token);
  await other.getByRole("button", { name: "Sign in" }).click();
  await other.locator("#incidents").waitFor(WAIT);
  await page.goto(`${base}/#/activity`);
  await page.locator("#incidents").waitFor(WAIT);
  await page.locator("#sign-out-everywhere").click();
  await page.locator("#sign-in").waitFor(WAIT);
  await page.locator("#status", { hasText: "signed out everywhere" }).waitFor(WAIT);
  await other.goto(`${base}/#/templates`);
  await other.locator("#sign-in").waitFor(WAIT);
  await elsewhere.close();

  if (shots) {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    phone.on("dialog", (d) => d.accept());
    await phone.goto(`${base}/`);
    await phone.getByLabel("Your name").fill("Marta");
    await phone.getByLabel("Admin token").fill(token);
    await phone.getByRole("button", { name: "Sign in" }).click();
    await phone.locator("#incidents").waitFor(WAIT);
    await shot(phone, "activity-phone");
  }
  assert.deepEqual(errors, [], "the page raised errors");
  console.log("console e2e: all steps passed");
} finally {
  await browser.close();
}
