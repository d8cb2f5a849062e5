// What the browser flows share: starting Debian's Chromium headless on a
// fresh profile, recording every request a page makes (none may leave the
// server's origin), checking that scripts never see the login tokens, and
// saving screenshots.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The command line: `node <script> <base_url> <outdir>`. */
export function parseArgs() {
  const [base, outdir] = process.argv.slice(2);
  if (!base || !outdir) {
    console.error('usage: node <script>.mjs <base_url> <outdir>');
    process.exit(2);
  }
  mkdirSync(outdir, { recursive: true });
  return { base: base.replace(/\/$/, ''), origin: new URL(base).origin, outdir };
}

/** A failed expectation. */
export function check(condition, message) {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
  console.log(`ok: ${message}`);
}

/**
 * A browser on a profile of its own (removed by `close`), with its page
 * and the URL of every request that page and its frames made.
 */
export async function openBrowser({ javaScriptEnabled = true, viewport } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    javaScriptEnabled,
    viewport: viewport || { width: 1280, height: 900 },
  });
  // Recorded on the context, so every page and frame it opens is counted.
  const requests = [];
  context.on('request', (request) => requests.push(request.url()));
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, requests, close };
}

/** Every request went to the server under test (data: URLs never leave). */
export function checkRequestsStayed(requests, origin) {
  const away = requests.filter(
    (url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin,
  );
  check(requests.length > 0, `${requests.length} requests recorded`);
  check(away.length === 0, `no request left ${origin} (${away.join(', ') || 'none did'})`);
}

/**
 * Scripts must not see the login tokens: `document.cookie` names neither
 * the access nor the refresh cookie, nor holds either value.
 */
export async function checkTokensHidden(page, context) {
  const visible = await page.evaluate(() => document.cookie);
  const cookies = await context.cookies();
  for (const name of ['access_token', 'refresh_token']) {
    check(!visible.includes(`${name}=`), `document.cookie has no ${name}`);
    for (const c of cookies.filter((c) => c.name === name && c.value)) {
      check(c.httpOnly, `${name} cookie is HttpOnly`);
      check(!visible.includes(c.value), `document.cookie does not hold the ${name} value`);
    }
  }
  return visible;
}

/** A full-page screenshot at `width` pixels wide, saved as `<name>.png`. */
export async function screenshot(page, outdir, name, width) {
  const height = width < 600 ? 800 : 900;
  await page.setViewportSize({ width, height });
  const path = join(outdir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

/** Runs `flow`, printing the failure and exiting non-zero on any error. */
export async function main(flow) {
  try {
    await flow();
    console.log('browser flow passed');
  } catch (error) {
    console.error(error && error.stack ? error.stack : String(error));
    process.exit(1);
  }
}
