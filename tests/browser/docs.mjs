// Swagger UI at /docs in headless Chromium: Authorize with the OAuth2
// password flow (which logs in through /token), then "Try it out" on
// `GET /users/me` and see a 200 with the username.
//
// `node docs.mjs <base_url> <outdir>`; the user is LATCHKEY_USER (default
// john) with LATCHKEY_PASSWORD (default secret).

import {
  check,
  checkRequestsStayed,
  checkTokensHidden,
  main,
  openBrowser,
  parseArgs,
  screenshot,
} from './lib.mjs';

const { base, origin, outdir } = parseArgs();
const user = process.env.LATCHKEY_USER || 'john';
const password = process.env.LATCHKEY_PASSWORD || 'secret';

await main(async () => {
  const browser = await openBrowser({ viewport: { width: 1280, height: 900 } });
  const { page, context, requests } = browser;
  const tokenPosts = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname === '/token' && response.request().method() === 'POST') {
      tokenPosts.push(response.status());
    }
  });

  const opened = await page.goto(`${base}/docs`);
  check(opened && opened.status() === 200, `GET /docs answers 200 (at ${page.url()})`);
  const authorize = page.locator('.swagger-ui .auth-wrapper .btn.authorize');
  await authorize.waitFor();
  check(true, 'Swagger UI rendered its Authorize button');
  await screenshot(page, outdir, 'docs-overview-desktop', 1280);

  await authorize.click();
  const dialog = page.locator('.swagger-ui .dialog-ux .modal-ux');
  await dialog.waitFor();
  await dialog.locator('#oauth_username').fill(user);
  await dialog.locator('#oauth_password').fill(password);
  await dialog.locator('.auth-btn-wrapper .btn.modal-btn.auth.authorize').first().click();
  // Authorized: the dialog offers "Logout" in place of "Authorize".
  await dialog.locator('.auth-btn-wrapper button', { hasText: 'Logout' }).first().waitFor();
  check(tokenPosts.includes(200), `the Authorize dialog logged in through POST /token (${tokenPosts.join(', ')})`);
  // The dialog scrolled to its end while authorizing: show its top.
  await page.evaluate(() => document.querySelector('.modal-ux-content')?.scrollTo(0, 0));
  const authorized = `${outdir}/docs-authorized-dialog.png`;
  await dialog.screenshot({ path: authorized });
  console.log(`screenshot: ${authorized}`);
  await dialog.locator('.auth-btn-wrapper .btn-done').first().click();
  await dialog.waitFor({ state: 'detached' });

  const operation = page
    .locator('.opblock.opblock-get')
    .filter({ has: page.locator('.opblock-summary-path[data-path="/users/me"]') })
    .first();
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('.try-out__btn').click();
  await operation.locator('.btn.execute').click();
  const live = operation.locator('.live-responses-table .response').first();
  await live.waitFor();
  const status = (await live.locator('.response-col_status').innerText()).trim();
  check(status.startsWith('200'), `GET /users/me answered ${status} in Swagger UI`);
  const body = await live.locator('.response-col_description').innerText();
  check(body.includes(`"username": "${user}"`), `the response shows the username ${user}`);
  await screenshot(page, outdir, 'docs-users-me-desktop', 1280);
  // The whole page is very tall: the operation alone, readable.
  const detail = `${outdir}/docs-users-me-operation.png`;
  await operation.screenshot({ path: detail });
  console.log(`screenshot: ${detail}`);

  await checkTokensHidden(page, context);
  const visible = await page.evaluate(() => document.cookie);
  check(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(visible), 'document.cookie holds no JWT');
  checkRequestsStayed(requests, origin);
  await browser.close();
});
