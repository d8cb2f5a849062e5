// The account page as a person uses it, in headless Chromium: a wrong
// password, signing in, the profile and sessions (this device marked),
// signing another device out, changing the password, signing out
// everywhere; then signing in and out again with JavaScript turned off.
//
// `node account.mjs <base_url> <outdir>`. The server has user
// LATCHKEY_USER (default john) with LATCHKEY_PASSWORD (default secret) and
// two other sessions of that user, one from user agent "Other phone"; the
// password ends as LATCHKEY_NEW_PASSWORD (default browser-pass-1).

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
const newPassword = process.env.LATCHKEY_NEW_PASSWORD || 'browser-pass-1';

async function signIn(page, login, secret) {
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(secret);
  await Promise.all([page.waitForURL(`${base}/account`), page.getByRole('button', { name: 'Sign in' }).click()]);
}

async function flash(page) {
  const shown = page.locator('.flash');
  return (await shown.count()) ? (await shown.first().innerText()).trim() : '';
}

async function submit(page, button) {
  await Promise.all([page.waitForURL(`${base}/account`), button.click()]);
}

await main(async () => {
  const phone = { width: 375, height: 800 };
  const browser = await openBrowser({ viewport: phone });
  const { page, context, requests } = browser;

  const opened = await page.goto(`${base}/account`);
  check(opened.status() === 200, 'GET /account answers 200');
  check(
    (opened.headers()['content-security-policy'] || '').includes("default-src 'none'"),
    'the page carries its Content-Security-Policy',
  );
  check((await page.locator('script').count()) === 0, 'the page has no script');
  await screenshot(page, outdir, 'account-sign-in-phone', 375);

  await signIn(page, user, 'not-the-password');
  check((await flash(page)) === 'Incorrect username or password', 'a wrong password is refused with the contract text');
  await screenshot(page, outdir, 'account-wrong-password-phone', 375);

  await signIn(page, user, password);
  check((await page.locator('#profile-username').innerText()) === user, `signed in as ${user}`);
  check((await flash(page)) === 'Login successful', 'the sign-in message shows');
  const sessions = page.locator('li.session');
  check((await sessions.count()) === 3, 'three sessions are listed');
  const current = page.locator('li.session.current');
  check((await current.count()) === 1, 'exactly one session is marked current');
  check((await current.innerText()).includes('This device'), 'the current session says "This device"');
  check(
    (await current.locator('.device').innerText()).includes('HeadlessChrome'),
    'the current session is this browser',
  );
  await screenshot(page, outdir, 'account-signed-in-phone', 375);
  await screenshot(page, outdir, 'account-signed-in-desktop', 1280);
  await page.setViewportSize(phone);

  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(scrollWidth <= 375, `nothing overflows a 375 px screen (scroll width ${scrollWidth})`);

  const other = page.locator('li.session', { hasText: 'Other phone' });
  await submit(page, other.getByRole('button', { name: 'Sign out this device' }));
  check((await flash(page)) === 'Device logged out', 'another device is signed out');
  check((await sessions.count()) === 2, 'two sessions are left');
  check((await page.locator('li.session', { hasText: 'Other phone' }).count()) === 0, 'the other phone is gone');

  await page.getByLabel('Current password').fill(password);
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('New password again').fill(newPassword);
  await submit(page, page.getByRole('button', { name: 'Change password' }));
  check(
    (await flash(page)) === 'Password changed; 1 other session signed out',
    'the password is changed and the remaining other session ends',
  );
  check((await sessions.count()) === 1, 'only this session is left');
  await screenshot(page, outdir, 'account-password-changed-desktop', 1280);
  await page.setViewportSize(phone);

  const visible = await checkTokensHidden(page, context);
  check(visible.includes('csrf_token='), 'document.cookie may hold csrf_token');

  await submit(page, page.getByRole('button', { name: 'Sign out everywhere' }));
  check(
    (await flash(page)) === 'Logged out from all devices (1 session ended)',
    'signing out everywhere ends the last session',
  );
  check((await page.getByRole('button', { name: 'Sign in' }).count()) === 1, 'the sign-in form is back');
  await checkTokensHidden(page, context);
  await screenshot(page, outdir, 'account-signed-out-phone', 375);
  checkRequestsStayed(requests, origin);
  await browser.close();

  // Without JavaScript: the same forms, the same result.
  const plain = await openBrowser({ javaScriptEnabled: false, viewport: phone });
  await plain.page.goto(`${base}/account`);
  await signIn(plain.page, user, newPassword);
  check(
    (await plain.page.locator('#profile-username').innerText()) === user,
    'signing in works with JavaScript disabled',
  );
  check((await plain.page.locator('li.session.current').count()) === 1, 'the session list shows without JavaScript');
  await screenshot(plain.page, outdir, 'account-no-javascript-desktop', 1280);
  const signOut = plain.page.locator('section', { hasText: 'Profile' }).getByRole('button', { name: 'Sign out' });
  await submit(plain.page, signOut);
  check((await flash(plain.page)) === 'Successfully logged out', 'signing out works with JavaScript disabled');
  const jar = await plain.context.cookies();
  check(!jar.some((c) => c.name === 'access_token' && c.value), 'the access cookie is gone');
  checkRequestsStayed(plain.requests, origin);
  await plain.close();
});
