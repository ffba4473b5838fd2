// Swagger UI in a real browser: what a partner does on /swagger-ui/ before writing any code.
//
// Registers a client over HTTP (to have an id that exists), then in headless Chromium: opens
// /swagger-ui/, authorizes with the API key, expands PUT /api/v1/clients/person/{id}, "Try it
// out" with that id and its ETag in If-Match, keeps the body example the spec gives, executes,
// and requires Swagger UI to render a 200 response with the updated record. A screenshot is
// always written (default artifacts/swagger-ui-put.png), pass or fail.
//
// Env: API_BASE_URL, API_KEY (required); SCREENSHOT (path), CHROMIUM_PATH (default
// /usr/bin/chromium), BROWSER_TIMEOUT_MS (default 30000).

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { chromium } from "playwright-core";

const base = (process.env.API_BASE_URL ?? "").replace(/\/+$/, "");
const key = process.env.API_KEY ?? "";
if (!base || !key) {
  console.error("swagger.mjs: API_BASE_URL and API_KEY must be set");
  process.exit(2);
}
const screenshot = resolve(process.env.SCREENSHOT ?? "artifacts/swagger-ui-put.png");
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const timeout = Number(process.env.BROWSER_TIMEOUT_MS ?? 30000);

const OPERATION = "#operations-Clients-updatePersonClient";

function fail(message) {
  throw new Error(message);
}

// 1. A client that exists, registered the way the README does it.
async function registerClient() {
  const stamp = `${Date.now()}-${process.pid}`;
  const response = await fetch(`${base}/api/v1/clients/person`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/json",
      "Idempotency-Key": `contract-browser-${stamp}`,
    },
    body: JSON.stringify({
      first_name: "Grace",
      last_name: "Hopper",
      date_of_birth: "1986-12-09",
      gender: "female",
      nationality: "USA",
      birth_country: "USA",
      country_of_tax_residence: "FRA",
      email: `grace.${stamp}@example.com`,
      address: "1 Rue de Rivoli",
      city: "Paris",
      postcode: "75001",
      country_code: "FRA",
      kyc_level: "FULL_KYC",
    }),
  });
  const text = await response.text();
  if (response.status !== 201) {
    fail(`registering a client for the test: expected 201, got ${response.status}: ${text}`);
  }
  const etag = response.headers.get("etag");
  if (!etag) fail("registration answered 201 without an ETag header");
  return { id: JSON.parse(text).id, etag };
}

async function run(page, { id, etag }) {
  // 2. Swagger UI, with the spec it loads.
  await page.goto(`${base}/swagger-ui/`, { waitUntil: "domcontentloaded" });
  await page.locator(OPERATION).waitFor({ state: "visible" }).catch(() => {
    fail(`Swagger UI at ${base}/swagger-ui/ did not show the PUT operation (${OPERATION})`);
  });

  // 3. Authorize with the bearer key.
  await page.locator(".scheme-container button.authorize").click();
  const modal = page.locator(".modal-ux");
  await modal.waitFor({ state: "visible" });
  const container = modal.locator(".auth-container").filter({ hasText: "bearerAuth" });
  await container.locator("input").first().fill(key);
  await container.locator("button.authorize").click();
  // Once authorized, the scheme shows a Logout button instead of Authorize.
  await container.locator("button", { hasText: "Logout" }).waitFor({ state: "visible" }).catch(() => {
    fail("Swagger UI did not accept the bearer key in the Authorize dialog");
  });
  await modal.locator("button.btn-done").click();
  await modal.waitFor({ state: "hidden" });

  // 4. Expand PUT /api/v1/clients/person/{id} and try it out.
  const op = page.locator(OPERATION);
  await op.locator(".opblock-summary").first().click();
  await op.locator("button.try-out__btn").click();
  await op.locator('tr[data-param-name="id"] input').fill(id);
  await op.locator('tr[data-param-name="If-Match"] input').fill(etag);
  // The body editor starts with the spec's example for UpdatePersonIn (a valid update); use it
  // as it is, so that an example the server refuses fails here.
  const body = op.locator("textarea.body-param__text");
  const example = await body.inputValue();
  if (!example.trim()) fail("the PUT request body editor is empty: the spec gives no example");
  JSON.parse(example);

  // 5. Execute and wait for the live response.
  await op.locator("button.execute").click();
  const live = op.locator(".live-responses-table .response").first();
  await live.waitFor({ state: "visible" }).catch(() => {
    fail("Swagger UI showed no response after Execute");
  });
  const curl = await op.locator(".curl-command").first().innerText();
  // The screenshot is a CI artifact: show that a bearer key was sent, not the key.
  await op.locator(".curl-command").first().evaluate((element, secret) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      node.nodeValue = node.nodeValue.split(secret).join("crk_…(hidden)");
    }
  }, key);
  // Swagger UI must have sent the key it was given, as a bearer token.
  if (!curl.includes(`Authorization: Bearer ${key}`)) {
    fail(`the request Swagger UI sent had no bearer header with the key:\n${curl.split(key).join("crk_…(hidden)")}`);
  }
  const status = (await live.locator(".response-col_status").first().innerText()).trim();
  const shown = await live.locator(".response-col_description").first().innerText();
  if (status !== "200") {
    fail(`PUT via Swagger UI: expected a rendered 200, got ${status}:\n${shown}`);
  }
  const expected = JSON.parse(example);
  for (const [field, value] of Object.entries(expected)) {
    if (typeof value === "string" && value !== "" && !shown.includes(JSON.stringify(value))) {
      fail(`PUT via Swagger UI answered 200 but the rendered body does not show ${field} = ${value}:\n${shown}`);
    }
  }
  await live.scrollIntoViewIfNeeded();
  return { status, op };
}

// The request (parameters, body) and the live response as Swagger UI rendered them: from the
// top of the operation to the end of the live response, not the documented responses below it.
async function screenshotRequestAndResponse(page) {
  const clip = await page.evaluate((selector) => {
    const op = document.querySelector(selector);
    const live = op.querySelector(".live-responses-table");
    if (!live) throw new Error("no live response");
    const top = op.getBoundingClientRect().top + window.scrollY;
    const bottom = live.getBoundingClientRect().bottom + window.scrollY;
    const box = op.getBoundingClientRect();
    return { x: box.left + window.scrollX, y: top, width: box.width, height: bottom - top + 8 };
  }, OPERATION);
  await page.screenshot({ path: screenshot, fullPage: true, clip });
}

const registered = await registerClient();
mkdirSync(dirname(screenshot), { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
let exitCode = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(timeout);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  try {
    await run(page, registered);
    await screenshotRequestAndResponse(page);
    if (pageErrors.length) fail(`Swagger UI threw in the page:\n${pageErrors.join("\n")}`);
    console.log(`swagger-ui: PUT /api/v1/clients/person/${registered.id} rendered 200; screenshot ${screenshot}`);
  } catch (error) {
    // The request and its rendered response when Swagger UI got that far, else the whole page.
    await screenshotRequestAndResponse(page).catch(() =>
      page.screenshot({ path: screenshot, fullPage: true }).catch(() => {}),
    );
    console.error(`swagger-ui: ${error.message}\nscreenshot: ${screenshot}`);
    exitCode = 1;
  }
} finally {
  await browser.close();
}
process.exit(exitCode);
