// The upload page in a real browser (Debian's chromium, driven by playwright-core) against the
// real local server and stack, as `just test-browser` starts them: sign in, upload two images and
// a text file renamed .png, watch the progress bars and the verdicts, page through the gallery,
// delete with confirmation, sign out, and check a second user sees none of the first one's images.
// Also the anonymous mode, when ANON_PAGE_URL names a server that allows it.
//
// Environment (set by the recipe): PAGE_URL, USER1, PASSWORD1, USER2, PASSWORD2, FIXTURES (the
// fixture image folder), ARTIFACTS (where screenshots go), optional ANON_PAGE_URL and CHROMIUM.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { LAUNCH } from './chromium.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with \`just test-browser\``);
  return value;
};

const PAGE_URL = env('PAGE_URL');
const FIXTURES = env('FIXTURES');
const ARTIFACTS = env('ARTIFACTS');
const USERS = [
  { name: env('USER1'), password: env('PASSWORD1') },
  { name: env('USER2'), password: env('PASSWORD2') },
];
/** How long the processor may take to settle an upload on a busy 2-core machine. */
const SETTLE_MS = 60_000;

let browser;
const pageErrors = [];
/** Console messages of type 'error': `{ text, url }` (url: the resource or script concerned). */
const consoleErrors = [];
/** Where the page calls Cognito (config.json's auth.cognitoEndpoint). */
let cognitoEndpoint;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // As the browser writes it (a trailing slash after the host, say).
  cognitoEndpoint = new URL((await (await fetch(`${PAGE_URL}/config.json`)).json()).auth.cognitoEndpoint).href;
  // chromium gets its own fresh profile from playwright (a new --user-data-dir each launch).
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
});

/** A new tab at phone-or-desktop size, with uncaught page errors collected. */
async function openPage(url, viewport = { width: 1100, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${url}: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push({ text: message.text(), url: message.location().url });
  });
  page.on('requestfailed', (request) => {
    if ((request.headers()['x-amz-target'] ?? '').endsWith('.RevokeToken')) failedRevocations += 1;
  });
  await page.goto(url);
  return page;
}

/** RevokeToken calls (on sign-out) that failed as network errors: the local emulator (moto
 * 5.2.5) has no RevokeToken, and its error answer carries no CORS header, so the browser reports
 * a CORS failure. The page ignores that (best effort); the console shows it. */
let failedRevocations = 0;
/** Where a 404 is the expected answer (the second user asking for the first user's image). */
const expectedNotFound = new Set();

/** The console errors no test step explains. Chromium logs an HTTP error status a fetch gets
 * ("Failed to load resource: the server responded with a status of 4xx") even when the page
 * handles it; explained are: Cognito's 4xx refusals (the wrong password, the refused refresh),
 * the second user's 404s (`expectedNotFound`), and for each failed RevokeToken its two lines
 * (the CORS refusal and net::ERR_FAILED) at the Cognito endpoint. Anything else fails the test. */
function unexplainedConsoleErrors() {
  const loadFailed = 'Failed to load resource: the server responded with a status of ';
  let corsLeft = failedRevocations;
  let failedLeft = failedRevocations;
  return consoleErrors.filter(({ text, url }) => {
    if (text.startsWith(loadFailed) && url === cognitoEndpoint && / status of 4\d\d /.test(text)) return false;
    if (text.startsWith(loadFailed) && expectedNotFound.has(url) && / status of 404 /.test(text)) return false;
    if (text.startsWith(`Access to fetch at '${cognitoEndpoint}' `) && / blocked by CORS policy/.test(text) && corsLeft > 0) {
      corsLeft -= 1;
      return false;
    }
    if (text === 'Failed to load resource: net::ERR_FAILED' && url === cognitoEndpoint && failedLeft > 0) {
      failedLeft -= 1;
      return false;
    }
    return true;
  });
}

/** `promise`, or a failure naming `what` after `ms`: a held request that never comes fails the test. */
function within(promise, what, ms = SETTLE_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The stored session of the page's tab (null when signed out). */
function storedSession(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('image-upload.session')));
}

/** Makes the stored ID token look 30 s from expiry (inside the refresh margin), with `changes`. */
async function expireSoon(page, changes = {}) {
  await page.evaluate((changes) => {
    const state = JSON.parse(sessionStorage.getItem('image-upload.session'));
    Object.assign(state, { expiresAt: Date.now() + 30_000 }, changes);
    sessionStorage.setItem('image-upload.session', JSON.stringify(state));
  }, changes);
}

/** Whether `request` is a Cognito InitiateAuth REFRESH_TOKEN_AUTH call. */
function isRefresh(request) {
  return (
    request.method() === 'POST' &&
    request.url() === cognitoEndpoint &&
    (request.postData() ?? '').includes('"REFRESH_TOKEN_AUTH"')
  );
}

/** Runs `fn`; on failure saves a screenshot named after the step, then fails. */
async function step(page, name, fn) {
  try {
    await fn();
  } catch (err) {
    await page.screenshot({ path: join(ARTIFACTS, `failed-${name}.png`), fullPage: true }).catch(() => {});
    throw err;
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(page, user) {
  await page.getByLabel('Email').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#app').waitFor({ state: 'visible' });
}

/** The image ids on every gallery page, following "Older" from the first page. */
async function allGalleryIds(page) {
  const ids = [];
  while ((await page.locator('#newer').isVisible())) {
    await page.locator('#newer').click();
    await waitForGallery(page);
  }
  for (;;) {
    ids.push(...(await page.locator('#images > li').evaluateAll((lis) => lis.map((li) => li.dataset.imageId))));
    if (!(await page.locator('#older').isVisible())) return ids;
    await page.locator('#older').click();
    await waitForGallery(page);
  }
}

async function waitForGallery(page) {
  await page.waitForFunction(() => document.getElementById('gallery-status').textContent !== 'Loading your images…');
}

/** Drops a file on the drop zone as a person would drag one there. */
async function dropFile(page, name, type, bytes) {
  const dataTransfer = await page.evaluateHandle(
    ({ name, type, base64 }) => {
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], name, { type }));
      return transfer;
    },
    { name, type, base64: Buffer.from(bytes).toString('base64') },
  );
  await page.locator('#drop-zone').dispatchEvent('dragenter', { dataTransfer });
  await page.locator('#drop-zone').dispatchEvent('drop', { dataTransfer });
}

describe('the upload page, signed in', { concurrency: false }, () => {
  let page;
  const uploaded = {};
  /** The second user's gallery, as the tests build it. */
  const secondUserIds = [];

  before(async () => {
    // Two images a page, so three uploads make a gallery of two pages.
    page = await openPage(`${PAGE_URL}/?limit=2`);
  });

  after(async () => {
    // Only one tab open at a time: the anonymous test's keyboard steps get the browser alone.
    await page?.context().close();
  });

  test('offers sign-in, refuses a wrong password in plain words, and signs in', async () => {
    await step(page, 'sign-in', async () => {
      await page.locator('#sign-in').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#app').isVisible(), false, 'nothing but sign-in before signing in');
      await shot(page, 'sign-in');
      await page.getByLabel('Email').fill(USERS[0].name);
      await page.getByLabel('Password').fill(`${USERS[0].password}-wrong`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
      await signIn(page, USERS[0]);
      await page.getByText(`Signed in as ${USERS[0].name}`).waitFor();
      await waitForGallery(page);
      assert.equal(await page.locator('#images > li').count(), 0, 'a new user starts with no images');
    });
  });

  test('uploads two images and a text file renamed .png: progress to 100 %, two ready, one rejected with its reason', async () => {
    await step(page, 'upload', async () => {
      await page
        .locator('#file-input')
        .setInputFiles([join(FIXTURES, 'sunset-64x48.jpg'), join(FIXTURES, 'sunset-64x48.png')]);
      await dropFile(page, 'notes.png', 'image/png', Buffer.from('These are notes, not a picture.\n'));

      const item = (name) => page.locator(`#uploads > li[data-file-name="${name}"]`);
      for (const name of ['sunset-64x48.jpg', 'sunset-64x48.png', 'notes.png']) {
        const progress = item(name).locator('progress');
        // Each file has its own native progress bar, named after the file.
        assert.equal(await progress.getAttribute('aria-label'), `Upload of ${name}`);
        await page.waitForFunction(
          (n) => document.querySelector(`#uploads > li[data-file-name="${n}"] progress`)?.value === 100,
          name,
          { timeout: SETTLE_MS },
        );
      }
      for (const name of ['sunset-64x48.jpg', 'sunset-64x48.png']) {
        await item(name).and(page.locator('[data-state="ready"]')).waitFor({ timeout: SETTLE_MS });
        assert.match(await item(name).locator('.state').textContent(), /^Ready: 64 × 48 pixels\.$/);
        uploaded[name] = await item(name).getAttribute('data-image-id');
      }
      await item('notes.png').and(page.locator('[data-state="rejected"]')).waitFor({ timeout: SETTLE_MS });
      assert.equal(
        await item('notes.png').locator('.state').textContent(),
        'Rejected: The file is not really an image of the type its name says.',
      );
      uploaded['notes.png'] = await item('notes.png').getAttribute('data-image-id');
      assert.equal(new Set(Object.values(uploaded)).size, 3, 'three images, three ids');
    });
  });

  test('shows the thumbnails and the rejection, two images a page, and pages through them', async () => {
    await step(page, 'gallery', async () => {
      // Newest first: the rejected text file was dropped last, but settling order varies, so
      // compare sets; the first page holds two of the three, the second the last one.
      await page.waitForFunction(() => document.querySelectorAll('#images > li').length === 2);
      assert.equal(await page.locator('#page-number').textContent(), 'Page 1');
      assert.equal(await page.locator('#older').isVisible(), true, 'a second page is offered');
      assert.equal(await page.locator('#newer').isVisible(), false);
      const ids = await allGalleryIds(page);
      assert.deepEqual(new Set(ids), new Set(Object.values(uploaded)), 'every upload, each once');
      assert.equal(ids.length, 3);

      // On the way back the page number and buttons follow.
      assert.equal(await page.locator('#page-number').textContent(), 'Page 2');
      assert.equal(await page.locator('#images > li').count(), 1);
      await page.locator('#newer').click();
      await waitForGallery(page);
      assert.equal(await page.locator('#page-number').textContent(), 'Page 1');

      // Both thumbnails really load (through the server's CDN path, with its signed URLs), each
      // offering every rendition to the browser; the display rendition opens; the original
      // downloads under its own name.
      for (const name of ['sunset-64x48.jpg', 'sunset-64x48.png']) {
        const id = uploaded[name];
        const card = await cardOnSomePage(page, id);
        const img = card.getByRole('img', { name: `Thumbnail of ${name}` });
        await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
        assert.match(await img.getAttribute('src'), /\/cdn\/renditions\/.*\/thumbnail-[0-9a-f]{16}\.jpg\?/);
        // A 64 x 48 image: both renditions have its size, so one candidate, the display one.
        const srcset = (await img.getAttribute('srcset')).split(', ');
        assert.equal(srcset.length, 1, srcset.join(' | '));
        assert.match(srcset[0], /\/display-[0-9a-f]{16}\.jpg\?.* 64w$/);
        assert.equal(await img.getAttribute('loading'), 'lazy');
        const view = card.getByRole('link', { name: `View ${name}` });
        const shown = await page.request.get(await view.getAttribute('href'));
        assert.equal(shown.status(), 200, 'the display rendition opens');
        assert.equal(shown.headers()['content-type'], 'image/jpeg');
        assert.equal(shown.headers()['cache-control'], 'public, max-age=31536000, immutable');
        const original = card.getByRole('link', { name: `Open the original of ${name}` });
        assert.equal(await original.getAttribute('download'), name);
        const [download] = await Promise.all([page.waitForEvent('download'), original.click()]);
        assert.equal(download.suggestedFilename(), name);
        const saved = await readFile(await download.path());
        const response = await page.request.get(await original.getAttribute('href'));
        assert.equal(response.status(), 200, 'the original opens');
        assert.equal(response.headers()['content-type'], name.endsWith('.jpg') ? 'image/jpeg' : 'image/png');
        assert.deepEqual(saved, Buffer.from(await response.body()), 'the download is the original');
      }
      const rejected = await cardOnSomePage(page, uploaded['notes.png']);
      assert.equal(await rejected.getAttribute('data-status'), 'REJECTED');
      assert.equal(
        await rejected.locator('.detail').textContent(),
        'Rejected: The file is not really an image of the type its name says.',
      );
      await shot(page, 'gallery-page');
    });
  });

  test('deletes an image only after confirmation, and it stays gone after a reload', async () => {
    await step(page, 'delete', async () => {
      const id = uploaded['sunset-64x48.jpg'];
      let card = await cardOnSomePage(page, id);
      await card.getByRole('button', { name: 'Delete sunset-64x48.jpg' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this image?' });
      await dialog.waitFor();
      assert.match(await dialog.textContent(), /“sunset-64x48\.jpg” will be deleted/);
      await shot(page, 'delete-confirmation');
      await dialog.getByRole('button', { name: 'Keep it' }).click();
      await dialog.waitFor({ state: 'hidden' });
      assert.ok((await allGalleryIds(page)).includes(id), 'kept when the person says keep it');

      card = await cardOnSomePage(page, id);
      await card.getByRole('button', { name: 'Delete sunset-64x48.jpg' }).click();
      await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
      await page.locator(`#images > li[data-image-id="${id}"]`).waitFor({ state: 'detached' });

      await page.reload();
      await page.locator('#app').waitFor({ state: 'visible' }); // Still signed in: the session is kept.
      await waitForGallery(page);
      const ids = await allGalleryIds(page);
      assert.ok(!ids.includes(id), 'gone after a reload');
      assert.equal(ids.length, 2);
    });
  });

  test('refreshes the ID token before it expires, and stays signed in', async () => {
    await step(page, 'refresh', async () => {
      const stored = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('image-upload.session')));
      const before = await stored();
      // As if the token had 30 s left: inside the refresh margin, so the page refreshes it at once.
      await page.evaluate(() => {
        const state = JSON.parse(sessionStorage.getItem('image-upload.session'));
        state.expiresAt = Date.now() + 30_000;
        sessionStorage.setItem('image-upload.session', JSON.stringify(state));
      });
      await page.reload();
      await page.waitForFunction(
        () => JSON.parse(sessionStorage.getItem('image-upload.session'))?.expiresAt > Date.now() + 10 * 60_000,
      );
      const after = await stored();
      assert.equal(after.refreshToken, before.refreshToken, 'REFRESH_TOKEN_AUTH keeps the refresh token');
      await waitForGallery(page);
      assert.equal(await page.locator('#gallery-error').isVisible(), false, 'the refreshed token is accepted');
      assert.equal(await page.locator('#images > li').count(), 2);
    });
  });

  test('is readable at phone width', async () => {
    await step(page, 'phone', async () => {
      await page.setViewportSize({ width: 375, height: 800 });
      await waitForGallery(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling at 375 px (overflow ${overflow} px)`);
      await shot(page, 'phone');
      await page.setViewportSize({ width: 1100, height: 900 });
    });
  });

  test('signing out while a token refresh is on its way stays signed out', async () => {
    await step(page, 'sign-out-during-refresh', async () => {
      // Cognito's answer to the refresh is held until the person has signed out.
      let held = null;
      let seen;
      const heldSeen = new Promise((resolve) => (seen = resolve));
      const hold = (route) => {
        if (!held && isRefresh(route.request())) {
          held = route;
          seen();
          return undefined;
        }
        return route.fallback();
      };
      await page.route('**/*', hold);
      await expireSoon(page);
      await page.reload();
      await within(heldSeen, 'the refresh request');
      await page.locator('#app').waitFor({ state: 'visible' });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.locator('#sign-in').waitFor({ state: 'visible' });

      const answer = page.waitForResponse((response) => response.request() === held.request());
      await held.continue();
      assert.equal((await answer).status(), 200, 'Cognito did refresh the token');
      await page.unroute('**/*', hold);
      // The page handles the answer in a few tasks; a second is ample on a busy machine.
      await page.waitForTimeout(1000);
      assert.equal(await storedSession(page), null, 'the late answer stored no tokens');
      await page.reload();
      await page.locator('#sign-in').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#app').isVisible(), false, 'still signed out after a reload');
      assert.equal(await storedSession(page), null);
    });
  });

  test('a refused token refresh signs out, saying the session has ended', async () => {
    await step(page, 'refresh-refused', async () => {
      await signIn(page, USERS[0]);
      await waitForGallery(page);
      // A refresh token Cognito does not know: the refresh is refused (NotAuthorizedException).
      await expireSoon(page, { refreshToken: 'not-a-refresh-token' });
      const refused = page.waitForResponse((response) => isRefresh(response.request()));
      await page.reload();
      assert.equal((await refused).status(), 400, 'Cognito refused the refresh');
      await page.locator('#sign-in').waitFor({ state: 'visible' });
      await page
        .locator('#signed-out-note')
        .filter({ hasText: 'Your session has ended. Please sign in again.' })
        .waitFor();
      assert.equal(await page.locator('#app').isVisible(), false);
      assert.equal(await storedSession(page), null);
      // Back in as the first user for the next test.
      await signIn(page, USERS[0]);
      await waitForGallery(page);
    });
  });

  test('signs out, and a second user sees none of the first user’s images', async () => {
    await step(page, 'second-user', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.locator('#sign-in').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#app').isVisible(), false);
      assert.equal(await page.locator('#signed-out-note').textContent(), 'You have signed out.');
      await page.reload();
      await page.locator('#sign-in').waitFor({ state: 'visible' }); // Signed out stays signed out.

      await signIn(page, USERS[1]);
      await page.getByText(`Signed in as ${USERS[1].name}`).waitFor();
      await waitForGallery(page);
      assert.equal(await page.locator('#images > li').count(), 0);
      assert.equal(await page.locator('#gallery-status').textContent(), 'No images yet. Upload some above.');
      // Not only hidden from the list: the API itself answers the second user as if the first
      // user's image did not exist (the page's own session token, so the second user's).
      const firstUsersImage = uploaded['sunset-64x48.png'];
      const url = `${PAGE_URL}/images/${firstUsersImage}`;
      expectedNotFound.add(url);
      const answer = await page.evaluate(async (url) => {
        const { idToken } = JSON.parse(sessionStorage.getItem('image-upload.session'));
        const response = await fetch(url, { headers: { Authorization: `Bearer ${idToken}` } });
        return { status: response.status, body: await response.json() };
      }, url);
      assert.equal(answer.status, 404);
      assert.equal(answer.body.error.code, 'IMAGE_NOT_FOUND');
      await shot(page, 'second-user');
    });
  });

  test('cancels an upload in flight, and retries it with a new upload URL', async () => {
    await step(page, 'cancel-retry', async () => {
      // The first PUT to the bucket is held unanswered, so there is an upload in flight to cancel.
      let held = null;
      const hold = (route) => {
        if (route.request().method() === 'PUT' && !held) {
          held = route;
          return undefined;
        }
        return route.fallback();
      };
      await page.route('**/*', hold);
      await page.locator('#file-input').setInputFiles(join(FIXTURES, 'sunset-64x48.gif'));
      const item = page.locator('#uploads > li[data-file-name="sunset-64x48.gif"]');
      await item.locator('.state', { hasText: 'Uploading…' }).waitFor();
      const abandoned = await item.getAttribute('data-image-id');
      assert.ok(abandoned && held, 'an upload URL was issued and its PUT is in flight');
      await item.getByRole('button', { name: 'Cancel uploading sunset-64x48.gif' }).click();
      await item.locator('.state', { hasText: 'Cancelled.' }).waitFor();
      assert.equal(await item.getByRole('button', { name: 'Cancel uploading sunset-64x48.gif' }).isVisible(), false);
      await page.unroute('**/*', hold);

      await item.getByRole('button', { name: 'Retry uploading sunset-64x48.gif' }).click();
      await item.and(page.locator('[data-state="ready"]')).waitFor({ timeout: SETTLE_MS });
      const retried = await item.getAttribute('data-image-id');
      assert.notEqual(retried, abandoned, 'the retry asked for a new upload');
      secondUserIds.push(retried);
      // The abandoned image was deleted: the gallery holds the retried one only.
      await page.waitForFunction(
        (ids) => [...document.querySelectorAll('#images > li')].map((li) => li.dataset.imageId).join() === ids,
        retried,
      );
    });
  });

  test('a late upload link for a cancelled attempt is dropped after Retry: one PUT, one image', async () => {
    await step(page, 'cancel-retry-late-link', async () => {
      // The first POST /upload is held, so its answer comes after Cancel and Retry.
      let held = null;
      let seen;
      const heldSeen = new Promise((resolve) => (seen = resolve));
      const hold = (route) => {
        const request = route.request();
        if (!held && request.method() === 'POST' && new URL(request.url()).pathname === '/upload') {
          held = route;
          seen();
          return undefined;
        }
        return route.fallback();
      };
      const puts = [];
      const countPuts = (request) => {
        if (request.method() === 'PUT') puts.push(request.url());
      };
      page.on('request', countPuts);
      await page.route('**/*', hold);
      const name = 'sunset-64x48.jpg';
      await page.locator('#file-input').setInputFiles(join(FIXTURES, name));
      const item = page.locator(`#uploads > li[data-file-name="${name}"]`);
      await within(heldSeen, 'POST /upload');
      await item.getByRole('button', { name: `Cancel uploading ${name}` }).click();
      await item.locator('.state', { hasText: 'Cancelled.' }).waitFor();
      await item.getByRole('button', { name: `Retry uploading ${name}` }).click();
      await item.and(page.locator('[data-state="ready"]')).waitFor({ timeout: SETTLE_MS });
      const retried = await item.getAttribute('data-image-id');

      // Now the cancelled attempt's answer arrives, with an image id of its own.
      const lateAnswer = page.waitForResponse((response) => response.request() === held.request());
      await held.continue();
      const late = await (await lateAnswer).json();
      await page.unroute('**/*', hold);
      assert.notEqual(late.imageId, retried);
      secondUserIds.push(retried);
      // The page deletes that image and never PUTs it: the gallery ends with the two retried
      // uploads only, and the row still shows the retry, ready.
      await page.waitForFunction(
        (ids) =>
          [...document.querySelectorAll('#images > li')].map((li) => li.dataset.imageId).sort().join() ===
          ids.sort().join(),
        secondUserIds,
        { timeout: SETTLE_MS },
      );
      page.off('request', countPuts);
      assert.equal(puts.length, 1, `one PUT, the retry's (${puts})`);
      assert.equal(await item.getAttribute('data-image-id'), retried);
      assert.equal(await item.getAttribute('data-state'), 'ready');
    });
  });

  test('no script error on the page, and no console error left unexplained', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(unexplainedConsoleErrors(), []);
  });
});

describe('the upload page, anonymous', { skip: !process.env.ANON_PAGE_URL && 'ANON_PAGE_URL not set' }, () => {
  let page;

  after(async () => {
    await page?.context().close();
  });

  test('shows no sign-in, uploads with the keyboard alone, and shows the image', async () => {
    page = await openPage(process.env.ANON_PAGE_URL);
    await page.bringToFront();
    await step(page, 'anonymous', async () => {
      await page.locator('#app').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#sign-in').isVisible(), false, 'no sign-in form');
      assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), false);
      await page.getByText('No sign-in needed').waitFor();
      // The page is ready before the keyboard starts: loaded, its picker set up, its gallery in.
      await page.waitForFunction(
        () => document.readyState === 'complete' && document.getElementById('file-input').accept !== '',
      );
      await waitForGallery(page);
      // With the keyboard alone: Tab to the file picker, Enter opens it. The chooser is
      // intercepted from before the first key, so it cannot open before the test listens.
      const chooserOpened = page.waitForEvent('filechooser', { timeout: SETTLE_MS });
      let tabs = 0;
      while (!(await page.evaluate(() => document.activeElement?.id === 'file-input'))) {
        assert.ok((tabs += 1) <= 10, 'the file picker is reachable with Tab');
        await page.keyboard.press('Tab');
      }
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'file-input', 'focus on the picker');
      await page.keyboard.press('Enter');
      const chooser = await chooserOpened;
      assert.equal(chooser.isMultiple(), true, 'several files at once');
      await chooser.setFiles(join(FIXTURES, 'sunset-64x48.webp'));
      const item = page.locator('#uploads > li[data-file-name="sunset-64x48.webp"]');
      await item.and(page.locator('[data-state="ready"]')).waitFor({ timeout: SETTLE_MS });
      assert.equal(await item.locator('progress').evaluate((p) => p.value), 100);
      const id = await item.getAttribute('data-image-id');
      await page.locator(`#images > li[data-image-id="${id}"] img`).waitFor();

      // What the browser can tell is not an accepted image never reaches the API.
      const uploadRequests = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/upload') uploadRequests.push(request.url());
      });
      await dropFile(page, 'notes.txt', 'text/plain', Buffer.from('not an image'));
      const refused = page.locator('#uploads > li[data-file-name="notes.txt"]');
      await refused.and(page.locator('[data-state="failed"]')).waitFor();
      assert.equal(
        await refused.locator('.state').textContent(),
        'Not uploaded: only JPEG, PNG, GIF, WebP, HEIC, HEIF, AVIF images are accepted.',
      );
      assert.deepEqual(uploadRequests, []);
      await shot(page, 'anonymous');
    });
  });

  test('uses only http(s) links and thumbnails from the API', async () => {
    await step(page, 'url-schemes', async () => {
      // A gallery page whose URLs are scripts: the page must put neither into the document.
      const hostile = (route) =>
        route.fulfill({
          json: {
            images: [
              {
                imageId: '00000000-0000-4000-8000-000000000000',
                fileName: 'hostile.png',
                fileType: 'image/png',
                status: 'READY',
                width: 1,
                height: 1,
                sizeBytes: 1,
                createdAt: new Date().toISOString(),
                thumbnailUrl: 'javascript:alert(1)',
                url: 'javascript:alert(2)',
                renditions: [
                  { name: 'display', format: 'image/jpeg', width: 1, height: 1, sizeBytes: 1, url: 'javascript:alert(3)' },
                ],
              },
            ],
          },
        });
      const listing = (url) => url.pathname === '/images';
      await page.route(listing, hostile);
      await page.reload();
      const card = page.locator('#images > li[data-image-id="00000000-0000-4000-8000-000000000000"]');
      await card.waitFor();
      assert.equal(await card.locator('img').count(), 0, 'no thumbnail from a javascript: URL');
      assert.equal(await card.getByRole('link').count(), 0, 'no link to a javascript: URL');
      assert.equal(await card.locator('.thumb').textContent(), 'No thumbnail');
      await page.unroute(listing, hostile);
    });
  });

  test('no script error on the page, and no console error left unexplained', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(unexplainedConsoleErrors(), []);
  });
});

/** The gallery card of `id`, paging to it if needed. */
async function cardOnSomePage(page, id) {
  const card = page.locator(`#images > li[data-image-id="${id}"]`);
  while ((await page.locator('#newer').isVisible())) {
    await page.locator('#newer').click();
    await waitForGallery(page);
  }
  for (;;) {
    if (await card.count()) return card;
    if (!(await page.locator('#older').isVisible())) throw new Error(`image ${id} is on no gallery page`);
    await page.locator('#older').click();
    await waitForGallery(page);
  }
}
