// The patient's page in a real browser (Debian's chromium, driven by playwright-core):
// open a fresh link, answer, send, see the confirmation; open the link again and see the
// neutral failure. Screenshots go to $SHOTS for a person to look at.
import { chromium } from "playwright-core";

const [url, shots] = [process.env.LINK, process.env.SHOTS];
const started = Date.now();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
const problems = [];
// Failed loads are judged by their responses below; other console errors are problems.
page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text()); });
page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} for ${r.url()}`); });
page.on("pageerror", (e) => problems.push(e.message));
page.on("request", (r) => { if (r.url().includes("#") || (r.headers()["referer"] || "").includes("#")) problems.push("token sent: " + r.url()); });

await page.goto(url);
// The question is found as a screen reader finds it: by its label.
const input = page.getByLabel("OCD severity right now");
try {
  await input.waitFor({ timeout: 15000 });
} catch (e) {
  await page.screenshot({ path: `${shots}/patient-page-failed.png`, fullPage: true });
  throw e;
}
if (page.url().includes("#")) problems.push("the token stayed in the address bar: " + page.url());
await page.screenshot({ path: `${shots}/patient-page-question.png`, fullPage: true });
await input.fill("30");
await page.getByRole("button", { name: "Send my answers" }).click();
await page.getByText("Thank you. Your answers were received.").waitFor();
await page.screenshot({ path: `${shots}/patient-page-received.png`, fullPage: true });

const again = await browser.newPage();
again.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text()); });
await again.goto(url);
await again.getByText("This link cannot be used.", { exact: false }).waitFor();
await again.screenshot({ path: `${shots}/patient-page-used.png`, fullPage: true });
// A C-SSRS link answered with intent: the clinic's crisis text appears at once.
if (process.env.CRISIS_LINK) {
  const crisis = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  crisis.on("pageerror", (e) => problems.push(e.message));
  await crisis.goto(process.env.CRISIS_LINK);
  await crisis.getByRole("group", { name: /wish to be dead/i }).waitFor();
  const answer = async (question, choice) => crisis.getByRole("group", { name: question }).getByLabel(choice).check();
  // The screener's order ("If YES to 2, ask questions 3, 4, 5, and 6. If NO to 2, go
  // directly to question 6"): items 3–5 appear only after a yes to 2, and 6's "within
  // the past 3 months" only after a yes to 6.
  const followUps = [/thoughts of a method/i, /intent/i, /a plan/i, /past 3 months/i];
  const visible = async (question) => crisis.getByRole("group", { name: question }).isVisible();
  for (const question of followUps) if (await visible(question)) problems.push(`asked before its time: ${question}`);
  await answer(/wish to be dead/i, "Yes");
  await answer(/suicidal thoughts/i, "No");
  for (const question of followUps) if (await visible(question)) problems.push(`asked after a no to 2: ${question}`);
  await crisis.screenshot({ path: `${shots}/patient-page-cssrs-no-to-2.png`, fullPage: true });
  await answer(/suicidal thoughts/i, "Yes");
  for (const question of followUps.slice(0, 3)) if (!(await visible(question))) problems.push(`not asked after a yes to 2: ${question}`);
  await answer(/thoughts of a method/i, "Yes");
  await answer(/intent/i, "Yes");
  await answer(/a plan/i, "No");
  await answer(/suicidal behaviour, ever/i, "No");
  await crisis.screenshot({ path: `${shots}/patient-page-cssrs.png`, fullPage: true });
  await crisis.getByRole("button", { name: "Send my answers" }).click();
  await crisis.getByRole("alert").filter({ hasText: process.env.CRISIS_TEXT }).waitFor();
  await crisis.screenshot({ path: `${shots}/patient-page-crisis-text.png`, fullPage: true });
}
await browser.close();

if (problems.length) {
  console.error("browser problems:\n" + problems.join("\n"));
  process.exit(1);
}
console.log(`patient page: answered and refused again in headless chromium in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
