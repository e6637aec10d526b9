// Two pages of one user at an allowed origin (the page the test serves): a task
// created in one must show up in the other through EventSource with a ticket.
// Usage: node sync.mjs PAGE_URL   (Chromium from CHROMIUM, default /usr/bin/chromium)
// Prints one JSON line: {"ok": true, "seen_ms": ...} or {"ok": false, "error": ...}.
import { chromium } from "playwright-core";

const pageUrl = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext();
  const [one, two] = [await context.newPage(), await context.newPage()];
  const errors = [];
  for (const page of [one, two]) {
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.streamOpen === true, null, { timeout: 10000 });
  }
  const title = `from page one ${Date.now()}`;
  const started = Date.now();
  await one.evaluate((t) => window.createTask(t), title);
  await two.waitForFunction((t) => [...document.querySelectorAll("#tasks li")].some((li) => li.textContent === t),
                            title, { timeout: 10000 });
  const seenMs = Date.now() - started;
  // And back: a deletion in page two disappears from page one.
  await two.evaluate((t) => window.deleteTask(t), title);
  await one.waitForFunction((t) => ![...document.querySelectorAll("#tasks li")].some((li) => li.textContent === t),
                            title, { timeout: 10000 });
  if (errors.length) throw new Error(errors.join("; "));
  console.log(JSON.stringify({ ok: true, seen_ms: seenMs }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
} finally {
  await browser.close();
}
