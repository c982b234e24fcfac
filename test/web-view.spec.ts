/**
 * The web view in a real headless Chromium: a run submitted through the API appears, its tiles fill in live,
 * the statistics and download buttons of a finished run are there, and kill, pause and resume work.
 * Screenshots are kept in test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { stoneLike } from './support/training-images';
import { TestStack, nd, startTestStack } from './support/stack';
import { launchBrowser } from './support/browser';
import { DqsClient } from '../apps/cli/src/dqs-client';

const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
const stone = stoneLike(80, 80);

describe('the web view', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestStack({ workers: 1, slots: 1, env: { DQS_TOKEN: 'web-secret' } });
    t.client = new DqsClient(t.stack.url, 'web-secret');
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const small = await t.client.uploadArray(nd([30, 30], new Float32Array(900).fill(NaN)));
    const big = await t.client.uploadArray(nd([160, 160], new Float32Array(160 * 160).fill(NaN)));
    for (let id = 1; id <= 9; id++)
      await t.client.json('POST', '/v1/prep', { id, ti: [ti], di: small, dt: [0] });
    for (const id of [11, 12]) await t.client.json('POST', '/v1/prep', { id, ti: [ti], di: big, dt: [0] });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stack.stop();
  });

  it('shows a run submitted through the API, fills in its tiles live, then the mosaic, statistics and downloads', async () => {
    await page.goto(t.stack.url + '/');
    await page.waitForSelector('#empty');
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      jg: [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      dt: [0],
      k: 1.2,
      n: [20],
      s: 5,
      j: 1,
      ks: [15],
      batch: 'web-test',
    });
    // the list updates by itself (server-sent events), with the run's namespace and batch
    await page.waitForSelector(`tr.run[data-run="${run.runId}"]`, { timeout: 20000 });
    const row = page.locator(`tr.run[data-run="${run.runId}"]`);
    expect(await row.locator('td.ns').textContent()).toBe('default');
    expect(await row.locator('td.batch').textContent()).toBe('web-test');
    await page.screenshot({ path: join(ARTIFACTS, 'web-runs.png') });
    await page.click(`tr.run[data-run="${run.runId}"]`);
    await page.waitForSelector('.tile[data-job="1"]');
    expect(await page.locator('.tile').count()).toBe(9);
    // tiles fill in as chunks progress, and end written
    await page.waitForFunction(
      () => document.querySelectorAll('.tile[data-state="durable"]').length === 9,
      undefined,
      { timeout: 60000 },
    );
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.tile img')).every(
          (i) => (i as HTMLImageElement).naturalWidth > 0,
        ),
      undefined,
      { timeout: 20000 },
    );
    await page.waitForSelector('#statsText', { timeout: 20000 });
    expect(await page.textContent('#statsText')).toMatch(/KS distance of values: 0\.\d+/);
    expect(await page.locator('svg.variogram').count()).toBe(1);
    expect(await page.locator('svg.histogram rect').count()).toBe(30);
    await page.waitForFunction(
      () => (document.getElementById('mosaic') as HTMLImageElement).naturalWidth > 0,
    );
    expect(await page.textContent('#state')).toBe('completed');
    await page.screenshot({ path: join(ARTIFACTS, 'web-run-completed.png'), fullPage: true });
    // each tile's own training image, on a click
    await page.click('.tile[data-job="5"]');
    expect(await page.textContent('#tijob')).toBe('5');
    await page.waitForFunction(() =>
      (document.getElementById('ti') as HTMLImageElement).src.includes('/tis/5/'),
    );
    // download buttons give real files
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('tr[data-job="5"] a:text("NPY")'),
    ]);
    expect(download.suggestedFilename()).toBe('chunk_5.npy');
    const href = await page.getAttribute('#mtiff', 'href');
    const res = await page.request.get(t.stack.url + href!);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('image/tiff');
    // Bull Board is linked (and behind its login)
    expect(await page.getAttribute('a[href="/queues"]', 'href')).toBe('/queues');
  });

  it('pause, resume, kill and retry buttons work (asking for the token once)', async () => {
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      jg: [[11, 12]],
      dt: [0],
      k: 1.2,
      n: [50],
      s: 1,
      j: 1,
      ks: [41],
    });
    await page.goto(`${t.stack.url}/#${run.runId}`);
    await page.waitForFunction(() => document.getElementById('state')!.textContent === 'running', undefined, {
      timeout: 20000,
    });
    page.on('dialog', (d) => void (d.type() === 'prompt' ? d.accept('web-secret') : d.accept()));
    await page.click('#pause');
    await page.waitForFunction(() => document.getElementById('state')!.textContent === 'paused', undefined, {
      timeout: 10000,
    });
    expect((await t.client.json<{ state: string }>('GET', `/v1/runs/${run.runId}`)).state).toBe('paused');
    await page.screenshot({ path: join(ARTIFACTS, 'web-run-paused.png') });
    await page.click('#resume');
    await page.waitForFunction(() => document.getElementById('state')!.textContent === 'running', undefined, {
      timeout: 10000,
    });
    await page.click('#kill');
    await page.waitForFunction(
      () => document.getElementById('state')!.textContent === 'cancelled',
      undefined,
      { timeout: 10000 },
    );
    expect((await t.client.json<{ state: string }>('GET', `/v1/runs/${run.runId}`)).state).toBe('cancelled');
    await page.screenshot({ path: join(ARTIFACTS, 'web-run-cancelled.png') });
    // Retry resumes the cancelled run's unfinished chunks, to its end
    expect(await page.isDisabled('#retry')).toBe(false);
    await page.click('#retry');
    await page.waitForFunction(
      () => document.getElementById('state')!.textContent === 'completed',
      undefined,
      { timeout: 60000 },
    );
  });
});

describe('the web view with a 10x10 job grid', () => {
  let t: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stack.stop();
  });

  it('stays responsive and fills in all 100 tiles from small previews', async () => {
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const di = await t.client.uploadArray(nd([12, 12], new Float32Array(144).fill(NaN)));
    const ids = Array.from({ length: 100 }, (_, i) => 1000 + i);
    for (const id of ids) await t.client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
    const grid = Array.from({ length: 10 }, (_, r) => ids.slice(10 * r, 10 * r + 10));
    const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
    const previews: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/preview.png')) void r.body().then((b) => previews.push(b.length));
    });
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      jg: grid,
      dt: [0],
      k: 1.2,
      n: [8],
      s: 2,
      j: 1,
      ks: [9],
    });
    await page.goto(`${t.stack.url}/#${run.runId}`);
    await page.waitForFunction(() => document.querySelectorAll('.tile').length === 100, undefined, {
      timeout: 20000,
    });
    // the page answers quickly while the tiles update
    const t0 = Date.now();
    await page.evaluate(() => document.querySelectorAll('.tile').length);
    expect(Date.now() - t0).toBeLessThan(1000);
    await page.waitForFunction(
      () => document.querySelectorAll('.tile[data-state="durable"]').length === 100,
      undefined,
      { timeout: 120000 },
    );
    await page.waitForSelector('#statsText', { timeout: 30000 });
    await page.screenshot({ path: join(ARTIFACTS, 'web-run-10x10.png'), fullPage: true });
    expect(previews.length).toBeGreaterThanOrEqual(100);
    expect(Math.max(...previews)).toBeLessThan(64 * 1024); // previews, never full grids
    await page.close();
  });
});
