// Resumable uploads in a real browser, against the anonymous local server and stack that
// `just test-browser` starts: a 20 MB image in 5 MiB parts, with the network switched off while
// a part is on its way (Playwright's setOffline) and on again, through the real Uppy 6 of
// docs/uppy with its signRequest adapter, and through the upload page; then the page's offer,
// after a reload, to resume an interrupted upload or discard it. Every part PUT is counted: a
// part the storage acknowledged is never sent again.
//
// Environment (set by the recipe): ANON_PAGE_URL, UPPY (the docs/uppy folder, built), UPPY_ORIGIN
// (a loopback origin the API and the bucket allow, where this test serves the example), ARTIFACTS,
// optional CHROMIUM.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { LAUNCH } from './chromium.mjs';
import { noisyPng } from './noisy-png.mjs';

const PAGE_URL = process.env.ANON_PAGE_URL;
const UPPY = process.env.UPPY;
const UPPY_ORIGIN = process.env.UPPY_ORIGIN;
const ARTIFACTS = process.env.ARTIFACTS;
const MIB = 1024 * 1024;
/** How long a 20 MB upload and its verification may take on a busy 2-core machine. */
const SETTLE_MS = 120_000;
/** How long the network stays off. */
const OFFLINE_MS = 2_000;

const CONTENT_TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

let browser;
/** Serves docs/uppy at UPPY_ORIGIN, as a team would host the example beside the API. */
let uppyServer;
/** The 20 MB image, and a 12 MB one (three parts), as files (their dates must not change). */
let big;
let medium;

before(async () => {
  if (!PAGE_URL) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  big = join(ARTIFACTS, 'noise-20mb.png');
  writeFileSync(big, noisyPng(20_000_000));
  medium = join(ARTIFACTS, 'noise-12mb.png');
  writeFileSync(medium, noisyPng(12_000_000));
  browser = await chromium.launch(LAUNCH);
  if (UPPY && UPPY_ORIGIN) {
    uppyServer = createServer(async (request, response) => {
      const relative = normalize(decodeURIComponent(new URL(request.url, UPPY_ORIGIN).pathname)).replace(/^\/+/, '');
      try {
        if (relative.startsWith('..')) throw new Error('outside the example');
        const body = await readFile(join(UPPY, relative || 'index.html'));
        response.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(relative || '.html')] ?? 'application/octet-stream' });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise((resolve) => uppyServer.listen(Number(new URL(UPPY_ORIGIN).port), '127.0.0.1', resolve));
  }
});

after(async () => {
  await browser?.close();
  uppyServer?.close();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` is true, polling. */
async function until(check, what, ms = SETTLE_MS) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

/**
 * Counts the part PUTs of a browser context (`sent`: every attempt, by part number; `acknowledged`:
 * those S3 answered 200). The first PUT of part `cutPart` is cut off: the network goes off (the
 * browser says offline) and the request fails as on a dropped connection; the network stays off
 * until the test calls `parts.reconnect()`.
 */
async function countParts(context, cutPart) {
  const parts = {
    sent: [],
    acknowledged: [],
    cut: false,
    reconnect: async () => {
      await sleep(OFFLINE_MS);
      await context.setOffline(false);
    },
  };
  await context.route(
    (url) => url.searchParams.has('partNumber') && url.searchParams.has('uploadId'),
    async (route) => {
      const number = Number(new URL(route.request().url()).searchParams.get('partNumber'));
      parts.sent.push(number);
      if (number === cutPart && !parts.cut) {
        parts.cut = true;
        await context.setOffline(true);
        await route.abort('internetdisconnected');
        return;
      }
      await route.continue();
    },
  );
  context.on('response', (response) => {
    const url = new URL(response.url());
    if (response.request().method() === 'PUT' && url.searchParams.has('partNumber') && response.status() === 200) {
      parts.acknowledged.push(Number(url.searchParams.get('partNumber')));
    }
  });
  return parts;
}

/** Every part once, in order; the cut-off part sent twice; nothing acknowledged sent again. */
function assertResumed(parts, count, cutPart) {
  assert.equal(parts.cut, true, `part ${cutPart} was cut off`);
  assert.deepEqual(parts.acknowledged, Array.from({ length: count }, (_, i) => i + 1), 'each part acknowledged once');
  const sends = (n) => parts.sent.filter((sent) => sent === n).length;
  for (let n = 1; n <= count; n += 1) {
    assert.equal(sends(n), n === cutPart ? 2 : 1, `part ${n} sent ${n === cutPart ? 'again once' : 'once'}`);
  }
}

/** A line of figures for the record (the note and docs/performance.md quote them). */
function record(line) {
  console.log(line);
  writeFileSync(join(ARTIFACTS, 'resumable-figures.txt'), `${line}\n`, { flag: 'a' });
}


describe('resumable uploads', { skip: (!PAGE_URL || !UPPY || !UPPY_ORIGIN) && 'ANON_PAGE_URL, UPPY or UPPY_ORIGIN not set' }, () => {
  test('Uppy 6 (docs/uppy): 20 MB in 5 MiB parts through a dropped connection, to READY, no acknowledged part sent again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const parts = await countParts(context, 3);
    await page.goto(`${UPPY_ORIGIN}/index.html`);
    await page.fill('#api', PAGE_URL);
    await page.waitForFunction(() => window.uppy);
    await page.evaluate(() => {
      window.events = [];
      window.uppy.on('upload-success', () => window.events.push('upload-success'));
      window.uppy.on('upload-error', (file, error) => {
        window.events.push('upload-error');
        window.errors = [...(window.errors ?? []), String(error?.message ?? error)];
      });
    });
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(big);
    const started = Date.now();
    await page.evaluate(() => {
      window.uppy.upload();
    });
    // Uppy reports the cut-off part as an error and does not retry while offline; back online, a
    // retry (what the Dashboard's Retry button does) lists the parts S3 holds and goes on.
    await until(() => page.evaluate(() => window.events.includes('upload-error')), 'Uppy reports the cut');
    await parts.reconnect();
    let retries = 0;
    await until(async () => {
      const events = await page.evaluate(() => window.events);
      if (events.includes('upload-success')) return true;
      if (events.at(-1) === 'upload-error' && (await page.evaluate(() => navigator.onLine))) {
        if ((retries += 1) > 3) throw new Error('Uppy failed after three retries');
        await page.evaluate(() => {
          window.events.push('retry');
          window.uppy.retryAll();
        });
      }
      return false;
    }, 'Uppy finishes the upload').catch(async (err) => {
      // What Uppy said, to tell a failure of the adapter from one of the API.
      const seen = await page.evaluate(() => ({ errors: [...new Set(window.errors)], events: window.events.slice(-6) }));
      throw new Error(`${err.message}; Uppy's ${JSON.stringify(seen)}; part PUTs ${JSON.stringify(parts)}`);
    });
    await page.locator('#results li[data-status="READY"]').waitFor({ timeout: SETTLE_MS });
    const seconds = (Date.now() - started) / 1000;
    assertResumed(parts, 4, 3);
    assert.equal(retries, 1, 'one retry, back online');
    assert.deepEqual(errors, [], 'no script error');
    record(
      `uppy 6: 20 MB, 4 parts: ${parts.sent.length} part PUTs (${parts.sent.join(',')}), ${retries} retry, READY ${seconds.toFixed(1)} s after the start (the network back ${OFFLINE_MS / 1000} s after the cut was seen)`,
    );
    await context.close();
  });

  test('the page: 20 MB in 5 MiB parts through a dropped connection, resumed on its own when back online, to READY', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const parts = await countParts(context, 2);
    await page.goto(PAGE_URL);
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#file-input').setInputFiles(big);
    const started = Date.now();
    const item = page.locator('#uploads > li[data-file-name="noise-20mb.png"]');
    await item.locator('.state', { hasText: 'Offline' }).waitFor({ timeout: SETTLE_MS });
    await parts.reconnect();
    await until(async () => (await item.getAttribute('data-state')) === 'ready', 'the page shows the image ready');
    const seconds = (Date.now() - started) / 1000;
    assertResumed(parts, 4, 2);
    record(
      `page: 20 MB, 4 parts: ${parts.sent.length} part PUTs (${parts.sent.join(',')}), READY ${seconds.toFixed(1)} s after the start (the network back ${OFFLINE_MS / 1000} s after the cut was seen)`,
    );
    await context.close();
  });

  test('the page: after a reload, an interrupted upload resumes from its acknowledged parts, and another is discarded', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const parts = { sent: [], acknowledged: [] };
    let stopAfterFirst = true;
    await context.route(
      (url) => url.searchParams.has('partNumber') && url.searchParams.has('uploadId'),
      async (route) => {
        const number = Number(new URL(route.request().url()).searchParams.get('partNumber'));
        parts.sent.push(number);
        // Before the reload: part 1 goes through, then nothing does (the reload cuts it).
        if (stopAfterFirst && number > 1) return; // left hanging until the page goes away
        await route.continue();
      },
    );
    context.on('response', (response) => {
      const url = new URL(response.url());
      if (response.request().method() === 'PUT' && url.searchParams.has('partNumber') && response.status() === 200) {
        parts.acknowledged.push(Number(url.searchParams.get('partNumber')));
      }
    });
    await page.goto(PAGE_URL);
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#file-input').setInputFiles(medium);
    await until(() => parts.acknowledged.length === 1 && parts.sent.includes(2), 'part 1 acknowledged, part 2 on its way');
    await until(
      () => page.evaluate(() => Object.keys(sessionStorage).some((k) => k.startsWith('image-upload:multipart:') && JSON.parse(sessionStorage[k]).done === 1)),
      'the page keeps how far the upload got',
    );
    stopAfterFirst = false;
    await page.reload();

    const offered = page.locator('#uploads > li[data-state="interrupted"][data-file-name="noise-12mb.png"]');
    await offered.locator('.state', { hasText: 'Interrupted after 1 of 3 parts' }).waitFor({ timeout: SETTLE_MS });
    const imageId = await offered.getAttribute('data-image-id');
    // The wrong file is refused in words; the same file resumes.
    let chooser = page.waitForEvent('filechooser');
    await offered.getByRole('button', { name: 'Resume uploading noise-12mb.png' }).click();
    await (await chooser).setFiles(big);
    await offered.locator('.state', { hasText: 'That is not the same file' }).waitFor();
    const sentBefore = parts.sent.length;
    chooser = page.waitForEvent('filechooser');
    await offered.getByRole('button', { name: 'Resume uploading noise-12mb.png' }).click();
    await (await chooser).setFiles(medium);
    const item = page.locator(`#uploads > li[data-image-id="${imageId}"]`);
    await until(async () => (await item.getAttribute('data-state')) === 'ready', 'the resumed upload is ready');
    assert.deepEqual(parts.sent.slice(sentBefore), [2, 3], 'only the parts not acknowledged are sent after the reload');
    assert.equal(
      await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('image-upload:multipart:')).length),
      0,
      'nothing kept once done',
    );

    // A second interrupted upload, discarded: the upload is aborted and the image is gone.
    stopAfterFirst = true;
    const acknowledged = parts.acknowledged.length;
    await page.locator('#file-input').setInputFiles(medium);
    await until(() => parts.acknowledged.length === acknowledged + 1, 'part 1 of the second upload acknowledged');
    await until(
      () => page.evaluate(() => Object.keys(sessionStorage).some((k) => k.startsWith('image-upload:multipart:') && JSON.parse(sessionStorage[k]).done === 1)),
      'the page keeps how far the second upload got',
    );
    stopAfterFirst = false;
    await page.reload();
    const second = page.locator('#uploads > li[data-state="interrupted"]');
    await second.waitFor({ timeout: SETTLE_MS });
    const secondId = await second.getAttribute('data-image-id');
    await second.getByRole('button', { name: 'Discard the interrupted upload of noise-12mb.png' }).click();
    await second.waitFor({ state: 'detached' });
    const answer = await page.evaluate(async (id) => (await fetch(`/upload/multipart/${id}`)).status, secondId);
    assert.equal(answer, 404, 'the discarded upload is gone');
    await context.close();
  });
});
