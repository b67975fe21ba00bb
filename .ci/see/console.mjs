// The console in a real browser: log in, open a demo patient, see the trajectory chart,
// see the cohort curve, with no console error or policy violation; then each SVG chart
// on its own. Screenshots go to $SHOTS.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";
import { createHmac } from "node:crypto";

const { BASE, EMAIL, PASSWORD, TOKEN, SHOTS, WORK } = process.env;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
const problems = [];
// Failed loads are judged by their responses below; other console errors are problems.
page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text()); });
page.on("pageerror", (e) => problems.push(e.message));
page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} for ${r.url()}`); });

async function step(name, action) {
  try {
    await action();
  } catch (e) {
    await page.screenshot({ path: `${SHOTS}/console-failed-${name}.png`, fullPage: true });
    throw e;
  }
}

await page.goto(`${BASE}/`);
await page.getByLabel("E-mail").fill(EMAIL);
await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
await page.getByRole("button", { name: "Log in" }).click();
await step("patients", () => page.locator("#patients tbody tr").first().waitFor({ timeout: 15000 }));
await page.screenshot({ path: `${SHOTS}/console-patients.png` });
await page.locator("#patients tbody tr").first().click();
await step("chart", () => page.locator("#trajectory-chart svg g.rating").first().waitFor({ timeout: 15000 }));
const drawn = await page.locator("#trajectory-chart svg g.rating").count();
const listed = await page.locator("#ratings tbody tr").count();
if (drawn !== listed) problems.push(`the chart draws ${drawn} ratings, the table lists ${listed}`);
// The PHQ-9 paper total of 20 given to this patient: its item 9 is unknown, and said so.
if ((await page.locator("#ratings tbody tr", { hasText: "item 9, self-harm: unknown" }).count()) !== 1) problems.push("the PHQ-9 paper total does not say item 9 is unknown");
const box = await page.locator("#trajectory-chart svg").boundingBox();
if (!box || box.width < 300) problems.push(`the chart did not render: ${JSON.stringify(box)}`);
await page.screenshot({ path: `${SHOTS}/console-patient.png`, fullPage: true });
// A patient who went on to doses at home: the plan with its doses used and left, and the
// doses the patient recorded listed beside the clinic's sessions.
{
  const auth = { authorization: `Bearer ${TOKEN}` };
  const listed = await (await fetch(`${BASE}/api/v1/patients?limit=50`, { headers: auth })).json();
  let home = null;
  for (const p of listed.items) {
    const plans = await (await fetch(`${BASE}/api/v1/patients/${p.id}/home-plans`, { headers: auth })).json();
    if (plans.items.length) { home = { patient: p, plan: plans.items[0] }; break; }
  }
  if (!home) problems.push("no demo patient among the first 50 has a home plan");
  else {
    await page.getByRole("button", { name: "Patients" }).click();
    await page.locator("#patients tbody").getByRole("cell", { name: home.patient.display_name, exact: true }).first().click();
    await step("home doses", () => page.locator("#sessions tbody tr.home-dose").first().waitFor({ timeout: 15000 }));
    const doses = await page.locator("#sessions tbody tr.home-dose").count();
    if (doses !== home.plan.doses_used) problems.push(`the console lists ${doses} home doses, the plan counts ${home.plan.doses_used}`);
    const planRow = await page.locator("#home-plans tbody tr").first().textContent();
    if (!planRow.includes(`${home.plan.doses_used} of ${home.plan.doses_allowed}`)) problems.push(`the plan row does not show its doses: ${planRow}`);
    await page.locator("#sessions").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/console-home-doses.png`, fullPage: true });
  }
}
await page.getByRole("button", { name: "Cohort onset" }).click();
await step("cohort", () => page.locator("#cohort-chart svg g.step").first().waitFor({ timeout: 15000 }));
await page.screenshot({ path: `${SHOTS}/console-cohort.png`, fullPage: true });
await page.getByRole("button", { name: "Alerts" }).click();
await step("alerts", () => page.locator("#alerts tbody tr, #status:has-text('No alerts')").first().waitFor({ timeout: 15000 }));
await page.getByRole("button", { name: "Due ratings" }).click();
await step("due", () => page.locator("#due tbody tr, #status:has-text('Nothing is due')").first().waitFor({ timeout: 15000 }));
await page.screenshot({ path: `${SHOTS}/console-due.png`, fullPage: true });

// The catalogue: the admin pastes the clinic's licensed C-SSRS wording (placeholders
// here), item by item, and the catalogue then says patients can be asked it.
await page.getByRole("button", { name: "Instruments" }).click();
const cssrsRow = page.locator("#instruments tbody tr", { hasText: "C-SSRS" });
await step("instruments", () => cssrsRow.waitFor({ timeout: 15000 }));
if (!(await cssrsRow.textContent()).includes("not until the wording is supplied")) problems.push("the C-SSRS is askable before its wording: " + (await cssrsRow.textContent()));
await cssrsRow.getByRole("button", { name: "Supply the wording" }).click();
const questionFields = page.locator("#wording-items fieldset");
await step("wording form", () => questionFields.first().waitFor({ timeout: 15000 }));
for (let i = 0; i < await questionFields.count(); i++) {
  await questionFields.nth(i).getByLabel("Question").fill(`[The clinic's licensed wording of question ${i + 1}]`);
}
await page.getByLabel("Your licence").fill("Licence from the holder, 2026");
await page.screenshot({ path: `${SHOTS}/console-instrument-wording.png`, fullPage: true });
await page.getByRole("button", { name: "Save the wording" }).click();
await step("wording saved", () => page.getByText("your clinic's wording version 1").first().waitFor({ timeout: 15000 }));
if (!(await cssrsRow.textContent()).includes("yes")) problems.push("the C-SSRS is still not askable after its wording: " + (await cssrsRow.textContent()));
await page.screenshot({ path: `${SHOTS}/console-instruments.png`, fullPage: true });

// The clinic's own instrument (DESIGN.md §9): the admin writes its definition, the
// catalogue lists it as the clinic's, and the cohort screen offers it.
await page.getByRole("button", { name: "Define your own instrument" }).click();
const own = {
  code: "x_sleep", title: "Clinic sleep check", name: "Sleep", rater: "self", recall_default: "NOW", recalls: ["NOW"], self_reportable: true, text_source: "bundled",
  items: [
    { code: "rested", short_label: "rested", text: "I woke up rested", type: "choice", min: 0, max: 3, reverse: true, options: ["Not at all", "A little", "Mostly", "Completely"].map((label, value) => ({ value, label })) },
    { code: "woke", short_label: "woke at night", text: "I woke up in the night", type: "choice", min: 0, max: 3, options: ["Never", "Once", "A few times", "Many times"].map((label, value) => ({ value, label })) },
  ],
  scoring: "sum", bands: [], outcomes: { rules: "definition", direction: "higher_is_worse", response: { kind: "points", threshold: 2 }, partial_response: null, remission: { max: 1 } },
};
await page.getByLabel("Definition").fill(JSON.stringify(own, null, 2));
await page.screenshot({ path: `${SHOTS}/console-own-instrument.png`, fullPage: true });
await page.getByRole("button", { name: "Save the definition" }).click();
await step("own instrument saved", () => page.getByText("Saved: Clinic sleep check, version 1").first().waitFor({ timeout: 15000 }));
const ownRow = page.locator("#instruments tbody tr", { hasText: "x_sleep" });
if (!(await ownRow.textContent()).includes("your clinic's")) problems.push("the clinic's instrument is not listed as its own: " + (await ownRow.textContent()));
await page.getByRole("button", { name: "Cohort onset" }).click();
await step("cohort offers the clinic's instrument", () => page.locator("#cohort-instrument option", { hasText: "Sleep (your clinic's)" }).waitFor({ state: "attached", timeout: 15000 }));
for (const code of ["madrs", "pcl5", "gad7"]) {
  if (!(await page.locator(`#cohort-instrument option[value="${code}"]`).count())) problems.push(`the cohort screen does not offer ${code}`);
}
// What predicts response: the Cox model's hazard ratios as a forest plot.
await page.locator("#cohort-instrument").selectOption("ocd_vas");
await page.locator("#cohort-endpoint").selectOption("response");
await page.getByLabel("sex").check();
await page.getByRole("button", { name: "Fit the Cox model" }).click();
await step("forest plot", () => page.locator("#cox-chart svg g.term").first().waitFor({ timeout: 15000 }));
const terms = await page.locator("#cox-chart svg g.term").count();
if (terms < 2) problems.push(`the forest plot draws ${terms} terms`);
await page.locator("#cox-chart").scrollIntoViewIfNeeded();
await page.screenshot({ path: `${SHOTS}/console-forest-plot.png`, fullPage: true });

// Each chart on its own, as a file a person could open.
const auth = { authorization: `Bearer ${TOKEN}` };
const patients = await (await fetch(`${BASE}/api/v1/patients?limit=1`, { headers: auth })).json();
for (const [name, path] of [["trajectory", `/api/v1/patients/${patients.items[0].id}/trajectory.svg`], ["onset", "/api/v1/analytics/onset.svg"]]) {
  const response = await fetch(`${BASE}${path}`, { headers: auth });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  const file = `${WORK}/${name}.svg`;
  writeFileSync(file, await response.text());
  const alone = await browser.newPage({ viewport: { width: 760, height: 600 } });
  alone.on("console", (m) => { if (m.type() === "error") problems.push(`${name}.svg: ${m.text()}`); });
  await alone.goto(`file://${file}`);
  const size = await alone.locator("svg").boundingBox();
  if (!size || size.width < 700) problems.push(`${name}.svg did not render: ${JSON.stringify(size)}`);
  // A full-page screenshot of an SVG document never settles: size the view to it instead.
  if (size) await alone.setViewportSize({ width: Math.ceil(size.width), height: Math.ceil(size.height) });
  await alone.screenshot({ path: `${SHOTS}/${name}-chart.png` });
  await alone.close();
}
// An admin's password reset link, opened as its holder would: a new password is set on
// the console's reset form, and the console then logs in with it.
const json = { ...auth, "content-type": "application/json" };
const email = `reset-${Date.now()}@see.example.org`;
const created = await fetch(`${BASE}/api/v1/users`, { method: "POST", headers: json, body: JSON.stringify({ email, password: "an initial passphrase 1", name: "Dr Reset", role: "clinician" }) });
if (created.status !== 201) throw new Error(`user: ${created.status}`);
const link = await (await fetch(`${BASE}/api/v1/users/${(await created.json()).id}/password-reset`, { method: "POST", headers: auth })).json();
const reset = await browser.newPage({ viewport: { width: 390, height: 700 } });
reset.on("pageerror", (e) => problems.push(`reset: ${e.message}`));
await reset.goto(link.url);
await step("reset form", () => reset.getByRole("heading", { name: "Set a new password" }).waitFor({ timeout: 15000 }));
if (reset.url().includes("#")) problems.push(`the reset token stayed in the address bar: ${reset.url()}`);
await reset.getByLabel("New password", { exact: true }).fill("a brand new passphrase 42");
await reset.getByLabel("The new password again").fill("a brand new passphrase 42");
await reset.screenshot({ path: `${SHOTS}/console-password-reset.png` });
await reset.getByRole("button", { name: "Set the password" }).click();
await step("reset done", () => reset.getByText("Your password is set: log in with it.").waitFor({ timeout: 15000 }));
await reset.getByLabel("E-mail").fill(email);
await reset.getByLabel("Password", { exact: true }).fill("a brand new passphrase 42");
await reset.getByRole("button", { name: "Log in" }).click();
await step("login after reset", () => reset.locator("#patients tbody tr").first().waitFor({ timeout: 15000 }));
await reset.close();

// MFA on the console: a clinician sets up an authenticator app (the code computed here
// from the key the page shows, RFC 6238 with node's HMAC-SHA-1), gets recovery codes, and
// the next login asks for the second step, answered with a recovery code.
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  return Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
}
function totp(secret) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, "0");
}
const mfaEmail = `mfa-${Date.now()}@see.example.org`;
const mfaUser = await fetch(`${BASE}/api/v1/users`, { method: "POST", headers: json, body: JSON.stringify({ email: mfaEmail, password: "a passphrase for mfa 7", name: "Dr Two Step", role: "clinician" }) });
if (mfaUser.status !== 201) throw new Error(`mfa user: ${mfaUser.status}`);
const mfa = await browser.newPage({ viewport: { width: 900, height: 800 } });
mfa.on("pageerror", (e) => problems.push(`mfa: ${e.message}`));
mfa.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`mfa: ${m.text()}`); });
await mfa.goto(`${BASE}/`);
const logIn = async () => {
  await mfa.getByLabel("E-mail").fill(mfaEmail);
  await mfa.getByLabel("Password", { exact: true }).fill("a passphrase for mfa 7");
  await mfa.getByRole("button", { name: "Log in" }).click();
};
await logIn();
await step("mfa login", () => mfa.locator("#patients tbody tr").first().waitFor({ timeout: 15000 }));
await mfa.getByRole("button", { name: "Security" }).click();
await mfa.getByRole("button", { name: "Set up an authenticator app" }).click();
await step("mfa key", () => mfa.locator("#mfa-enrol").waitFor({ timeout: 15000 }));
const key = (await mfa.locator("#mfa-secret").textContent()).trim();
await mfa.getByLabel("Code shown by the app").fill(totp(key));
await mfa.getByRole("button", { name: "Turn on" }).click();
await step("recovery codes", () => mfa.locator("#mfa-recovery-codes li").nth(9).waitFor({ timeout: 15000 }));
const recovery = (await mfa.locator("#mfa-recovery-codes li").first().textContent()).trim();
await mfa.screenshot({ path: `${SHOTS}/console-mfa-recovery-codes.png`, fullPage: true });
await mfa.getByRole("button", { name: "Log out" }).click();
await logIn();
await step("second step", () => mfa.getByText("Enter the code from your authenticator app").waitFor({ timeout: 15000 }));
await mfa.screenshot({ path: `${SHOTS}/console-mfa-second-step.png`, fullPage: true });
await mfa.getByLabel("Authenticator or recovery code").fill(recovery);
await mfa.getByRole("button", { name: "Verify" }).click();
await step("login with mfa", () => mfa.locator("#patients tbody tr").first().waitFor({ timeout: 15000 }));
await mfa.close();
await browser.close();
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`console: logged in, a patient's chart (${drawn} ratings), the cohort curve, alerts and due ratings, no console errors; both charts render alone; a password reset link sets a password and the console logs in with it; MFA set up on the console, and a login's second step with a recovery code`);
