import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warehouse } from '../lib/db.js';
import { buildConsole } from '../pipelines/console/server.js';
import { CHROMIUM, SKIP_BROWSER } from './helpers/chromium.js';
import { BAICHUAN, CLOSE_NAME, loadConsoleData, PENALTY_DOC, RENAMED } from './helpers/console-data.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

const TOKEN = 'browser-test-token-0123456789';
/** CI keeps .ci-results as its artefacts. */
const SHOTS = join(process.cwd(), '.ci-results', 'console');

describe(`the console in a real browser (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;
  let db: Warehouse;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    env = await makeEnv('console-browser');
    await loadConsoleData(env);
    db = await env.open();
    app = await buildConsole({
      config: env.config,
      db,
      catalog: env.catalog,
      logger: env.logger,
      token: TOKEN,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    mkdirSync(SHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await env?.cleanup();
  });

  it.skipIf(SKIP_BROWSER)(
    `searches an enterprise, opens its file (a licence, a penalty), accepts a review and opens a month's briefing${SKIP_BROWSER ? ' (SKIPPED: no chromium found and CI unset; set GUIJI_CHROMIUM)' : ''}`,
    async () => {
      if (!CHROMIUM)
        throw new Error('CI is set but no chromium was found (GUIJI_CHROMIUM, /usr/bin/chromium)');
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        // a blocked resource or a policy violation shows as a console error
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('response', (r) => {
          if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
        });

        await page.goto(`${base}/`);
        expect(await page.locator('h1').textContent()).toBe('首页');
        expect(await page.locator('body').textContent()).toContain(CLOSE_NAME);
        await page.screenshot({ path: join(SHOTS, '1-home.png'), fullPage: true });

        // 企业档案: search by part of the name, open the file
        await page.click('header >> text=企业档案');
        await page.waitForURL('**/enterprises');
        await page.fill('input[name=q]', '百川');
        await page.click('button:has-text("搜索")');
        await page.waitForURL(/q=/);
        await page.click(`#hits a:has-text("${BAICHUAN.uscc}")`);
        await page.waitForURL(`**/enterprises/${BAICHUAN.uscc}`);
        expect(await page.locator('h1').textContent()).toBe(RENAMED);
        const licence = page.locator('section[data-resource=xzxk]');
        expect(await licence.locator('h2').textContent()).toContain('行政许可信息');
        expect(await licence.textContent()).toContain('食品经营许可证');
        const penalty = page.locator('section[data-resource=xzcf]');
        expect(await penalty.locator('h2').textContent()).toContain('行政处罚信息');
        expect(await penalty.textContent()).toContain(PENALTY_DOC);
        await page.screenshot({ path: join(SHOTS, '2-profile.png'), fullPage: true });

        // 待核实: sign in with the token, accept the only candidate
        await page.goto(`${base}/login`);
        await page.fill('input[name=token]', TOKEN);
        await page.click('button:has-text("登录")');
        await page.waitForURL('**/reviews');
        expect(await page.locator('#reviews').textContent()).toContain(CLOSE_NAME);
        await page.click('#reviews button:has-text("确认")');
        await page.waitForURL(/done=accepted/);
        expect(await page.locator('#notice').textContent()).toContain('确认');
        expect(await page.locator('#reviews').count()).toBe(0);
        await page.screenshot({ path: join(SHOTS, '3-review-accepted.png'), fullPage: true });
        // the record is now in the enterprise's file, filed by hand
        await page.goto(`${base}/enterprises/${BAICHUAN.uscc}`);
        expect(await page.locator('section[data-resource=xzcf]').textContent()).toContain(CLOSE_NAME);

        // 质量: the month's briefing, with its charts drawn
        const [{ month }] = (await db.query<{ month: string }>(
          `SELECT to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month FROM runs ORDER BY id DESC LIMIT 1`,
        )) as [{ month: string }];
        await page.click('header >> text=质量');
        await page.waitForURL('**/quality');
        await page.fill('input[name=month]', month);
        await page.click('button:has-text("查看")');
        await page.waitForURL(/month=/);
        expect(await page.locator('h1').textContent()).toBe(`质量 · ${month}`);
        expect(await page.locator('#figures').textContent()).toContain('数据合规率');
        const charts = await page.$$eval('img.chart', (imgs) =>
          imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
        );
        expect(charts.length).toBe(3);
        for (const w of charts) expect(w).toBeGreaterThan(100);
        await page.screenshot({ path: join(SHOTS, '4-quality.png'), fullPage: true });

        // English on request
        await page.goto(`${base}/?lang=en`);
        expect(await page.locator('h1').textContent()).toBe('Home');
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    300_000,
  );
});
