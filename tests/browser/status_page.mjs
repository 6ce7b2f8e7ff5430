// Drives the node's status page in headless Chromium (Debian's chromium,
// through playwright-core): a wrong token is refused, the read-only token
// opens a session (a cookie: the token never enters the URL), the script
// refreshes the figures without a console error, and a screenshot is kept.
// Prints the figures the page shows as JSON for tests/e2e_status_page.rs to
// compare with `node status --json`.
import { chromium } from "playwright-core";

const url = process.env.PAGE_URL;
const token = process.env.PAGE_TOKEN;
const shot = process.env.SCREENSHOT;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (why) => {
  console.error(why);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));

  await page.goto(url);
  await page.fill("#token", "not-the-token");
  await page.click("button[type=submit]");
  if (!(await page.textContent("body")).includes("not this node's token")) {
    await fail("a wrong token was not refused");
  }
  // The refusal answers 401, which Chromium logs as a console error: that
  // one is expected; from here on there must be none.
  errors.length = 0;
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector('[data-k="used"]');
  if (page.url().includes(token)) await fail("the token is in the URL");
  // The script's first refresh has run once this says "updated".
  await page.waitForFunction(
    () => (document.querySelector('[data-k="updated"]')?.textContent || "").startsWith("updated"),
    null, { timeout: 15000 });
  const shown = await page.evaluate(() => {
    const out = {};
    for (const el of document.querySelectorAll("[data-raw]")) out[el.dataset.k] = Number(el.dataset.raw);
    out.health = document.querySelector('[data-k="health"]').textContent;
    out.text = document.body.innerText;
    return out;
  });
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) await fail("console errors: " + JSON.stringify(errors));
  // A second load with the cookie alone: still in, no login form.
  await page.goto(url);
  if (await page.$("#token")) await fail("the session cookie did not hold");
  console.log(JSON.stringify(shown));
} catch (e) {
  await fail(String(e && e.stack || e));
}
await browser.close();
