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

let answersSent = 0;
page.on("request", (r) => { if (r.url().endsWith("/api/v1/self-report")) answersSent += 1; });
await page.goto(url);
// The question is found as a screen reader finds it: the slider by its question.
const slider = page.getByRole("slider", { name: /obsessions and compulsions right now/i });
try {
  await slider.waitFor({ timeout: 15000 });
} catch (e) {
  await page.screenshot({ path: `${shots}/patient-page-failed.png`, fullPage: true });
  throw e;
}
if (page.url().includes("#")) problems.push("the token stayed in the address bar: " + page.url());
await page.screenshot({ path: `${shots}/patient-page-vas-360.png`, fullPage: true });
// Unset until moved: sending now asks for the slider and sends nothing.
await page.getByRole("button", { name: "Send my answers" }).click();
await page.getByText("Please move the slider to your answer.").waitFor();
if (answersSent !== 0) problems.push("an answer was sent before the slider was moved");
// Moved by keyboard, as a person without a mouse would: Home (0), then 30 steps right.
await slider.focus();
await page.keyboard.press("Home");
for (let i = 0; i < 30; i++) await page.keyboard.press("ArrowRight");
await page.getByText("Your answer: 30").waitFor();
await page.setViewportSize({ width: 1000, height: 700 });
await page.screenshot({ path: `${shots}/patient-page-vas-1000.png`, fullPage: true });
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
// A PHQ-9 link: the published questions and their four answers, each a labelled radio;
// "Several days" to the first five, "Not at all" to the rest (a total of 5, mild).
if (process.env.PHQ_LINK) {
  const phq = await browser.newPage({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2 });
  phq.on("pageerror", (e) => problems.push(e.message));
  await phq.goto(process.env.PHQ_LINK);
  await phq.getByText("Over the last 2 weeks, how often have you been bothered by any of the following problems?").waitFor({ timeout: 15000 });
  const questions = [/^Little interest or pleasure in doing things/, /^Feeling down, depressed, or hopeless/, /^Trouble falling or staying asleep/, /^Feeling tired or having little energy/,
    /^Poor appetite or overeating/, /^Feeling bad about yourself/, /^Trouble concentrating on things/, /^Moving or speaking so slowly/, /^Thoughts that you would be better off dead/];
  for (const [i, question] of questions.entries()) {
    const group = phq.getByRole("group", { name: question });
    for (const answer of ["Not at all", "Several days", "More than half the days", "Nearly every day"]) {
      if (!(await group.getByLabel(answer).isVisible())) problems.push(`PHQ-9 question ${i + 1} does not show "${answer}"`);
    }
    await group.getByLabel(i < 5 ? "Several days" : "Not at all").check();
  }
  await phq.screenshot({ path: `${shots}/patient-page-phq9-360.png`, fullPage: true });
  const width = await phq.evaluate(() => document.documentElement.scrollWidth);
  if (width > 360) problems.push(`the PHQ-9 page scrolls sideways on a 360 px phone (${width} px)`);
  await phq.setViewportSize({ width: 1000, height: 900 });
  await phq.screenshot({ path: `${shots}/patient-page-phq9-1000.png`, fullPage: true });
  await phq.getByRole("button", { name: "Send my answers" }).click();
  await phq.getByText("Thank you. Your answers were received.").waitFor();
}
// A dose at home: the check's no-go for high blood pressure shows the clinic's advice;
// another link is checked, goes, and records the dose "taken at" now.
if (process.env.DOSE_LINK) {
  const fill = async (page, systolic, diastolic, pulse) => {
    await page.getByLabel(/Upper number/).fill(String(systolic));
    await page.getByLabel(/Lower number/).fill(String(diastolic));
    await page.getByLabel(/Pulse/).fill(String(pulse));
    await page.getByLabel(/A sober adult is with me/).check();
  };
  const nogo = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  nogo.on("pageerror", (e) => problems.push(e.message));
  await nogo.goto(process.env.NOGO_LINK);
  await nogo.getByRole("heading", { name: "Your dose at home" }).waitFor({ timeout: 15000 });
  await fill(nogo, 172, 95, 80);
  await nogo.getByRole("button", { name: "Check whether I can take my dose" }).click();
  await nogo.getByRole("alert").filter({ hasText: process.env.ADVICE }).waitFor();
  if (!(await nogo.getByText("above the limit your clinic set").isVisible())) problems.push("the no-go does not say the blood pressure is above the limit");
  if (await nogo.getByRole("button", { name: "I have taken my dose" }).isVisible()) problems.push("a no-go offers to record the dose");
  await nogo.screenshot({ path: `${shots}/patient-page-dose-nogo.png`, fullPage: true });

  const dose = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  dose.on("pageerror", (e) => problems.push(e.message));
  await dose.goto(process.env.DOSE_LINK);
  await dose.getByRole("heading", { name: "Your dose at home" }).waitFor({ timeout: 15000 });
  await fill(dose, 128, 82, 74);
  const vas = dose.getByRole("slider", { name: /obsessions and compulsions right now/i });
  await vas.focus();
  await dose.keyboard.press("Home");
  for (let i = 0; i < 55; i++) await dose.keyboard.press("ArrowRight");
  await dose.screenshot({ path: `${shots}/patient-page-dose-check.png`, fullPage: true });
  await dose.getByRole("button", { name: "Check whether I can take my dose" }).click();
  await dose.getByText("You can take your dose now.").waitFor();
  const prefilled = await dose.getByLabel("I took it at").inputValue();
  if (!/^\d\d:\d\d$/.test(prefilled)) problems.push(`the time taken is not filled in with now: ${prefilled}`);
  await dose.screenshot({ path: `${shots}/patient-page-dose-go.png`, fullPage: true });
  await dose.getByRole("button", { name: "I have taken my dose" }).click();
  await dose.getByText(/Your dose at \d.* is recorded/).waitFor();
  await dose.screenshot({ path: `${shots}/patient-page-dose-recorded.png`, fullPage: true });
  const width = await dose.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) problems.push(`the dose page scrolls sideways on a phone (${width} px)`);
}
await browser.close();

if (problems.length) {
  console.error("browser problems:\n" + problems.join("\n"));
  process.exit(1);
}
console.log(`patient page: answered and refused again in headless chromium in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
