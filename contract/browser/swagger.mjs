// Swagger UI in a real browser: what a partner does on /swagger-ui/ before writing any code.
//
// Registers a client over HTTP (to have an id that exists) and starts a webhook receiver on
// loopback, then in headless Chromium: opens /swagger-ui/, authorizes with the API key, creates a
// webhook endpoint for the receiver with "Try it out" on POST /api/v1/webhook-endpoints (reading
// the secret from the rendered 201), expands PUT /api/v1/clients/person/{id}, "Try it out" with
// that id and its ETag in If-Match, keeps the body example the spec gives, executes, and requires
// Swagger UI to render a 200 response with the updated record. Then the receiver must get the
// client.updated event, its signature verified with the Standard Webhooks library (npm) and the
// secret Swagger UI showed. A screenshot is always written (default
// artifacts/swagger-ui-put.png), pass or fail. The server must allow loopback webhook URLs
// (WEBHOOK_ALLOW_PRIVATE_URLS=true, as contract/serve.sh starts it).
//
// Env: API_BASE_URL, API_KEY (required); SCREENSHOT (path), CHROMIUM_PATH (default
// /usr/bin/chromium), BROWSER_TIMEOUT_MS (default 30000).

import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, resolve } from "node:path";

import { chromium } from "playwright-core";
import { Webhook } from "standardwebhooks";

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
const CREATE_WEBHOOK = "#operations-Webhooks-createWebhookEndpoint";

// A partner's receiver: records each POST with its headers and raw body.
function startReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => done({ server, received, url: `http://127.0.0.1:${server.address().port}/hooks` }));
  });
}

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

// "Try it out" on POST /api/v1/webhook-endpoints for the receiver; the secret Swagger UI shows.
async function createWebhookEndpoint(page, receiverUrl) {
  const op = page.locator(CREATE_WEBHOOK);
  await op.waitFor({ state: "visible" }).catch(() => {
    fail(`Swagger UI did not show the webhook endpoint creation (${CREATE_WEBHOOK})`);
  });
  await op.locator(".opblock-summary").first().click();
  await op.locator("button.try-out__btn").click();
  const body = op.locator("textarea.body-param__text");
  const example = JSON.parse(await body.inputValue());
  if (!example.url) fail("the webhook endpoint body editor has no example url");
  await body.fill(JSON.stringify({ ...example, url: receiverUrl, event_types: ["client.updated"] }, null, 2));
  await op.locator("button.execute").click();
  const live = op.locator(".live-responses-table .response").first();
  await live.waitFor({ state: "visible" }).catch(() => fail("Swagger UI showed no response to the webhook creation"));
  const status = (await live.locator(".response-col_status").first().innerText()).trim();
  const shown = await live.locator(".response-col_description").first().innerText();
  if (status !== "201") fail(`POST /api/v1/webhook-endpoints via Swagger UI: expected 201, got ${status}:\n${shown}`);
  const secret = shown.match(/whsec_[A-Za-z0-9+/=]+/)?.[0];
  if (!secret) fail(`the rendered 201 shows no whsec_ secret:\n${shown}`);
  // Collapsed again, so that the PUT below is where the page scrolls.
  await op.locator(".opblock-summary").first().click();
  return secret;
}

// The receiver's copy of the client's update, verified as a partner verifies it.
async function signedEventArrived(receiver, secret, id) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const ours = receiver.received.find((r) => {
      const event = JSON.parse(r.body);
      return event.type === "client.updated" && event.data?.client_id === id;
    });
    if (ours) {
      const event = new Webhook(secret).verify(ours.body, ours.headers);
      if (ours.headers["webhook-id"] !== event.id) fail("webhook-id is not the event's id");
      return event;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  fail(`the receiver got no client.updated event for ${id} within ${timeout} ms`);
}

async function run(page, { id, etag }, receiver) {
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

  // 3b. A webhook endpoint for the receiver, created in Swagger UI.
  const secret = await createWebhookEndpoint(page, receiver.url);

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
  // 6. The change reached the receiver, signed with the secret Swagger UI showed.
  const event = await signedEventArrived(receiver, secret, id);
  return { status, op, event };
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
const receiver = await startReceiver();
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
    const { event } = await run(page, registered, receiver);
    await screenshotRequestAndResponse(page);
    if (pageErrors.length) fail(`Swagger UI threw in the page:\n${pageErrors.join("\n")}`);
    console.log(`swagger-ui: PUT /api/v1/clients/person/${registered.id} rendered 200; screenshot ${screenshot}`);
    console.log(`swagger-ui: webhook endpoint created in Swagger UI received ${event.type} ${event.id}, signature verified (standardwebhooks, npm)`);
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
  receiver.server.close();
}
process.exit(exitCode);
