import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CalendarError } from '../lib/calendar.js';
import { explainConfig, loadConfig, redactUrl, SETTINGS } from '../lib/config.js';
import { openWarehouse } from '../lib/db.js';
import { ConfigError, exitCodeOf, GuijiError, sqlState, toGuijiError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { doctorSettings } from '../pipelines/doctor/doctor.js';

describe('configuration', () => {
  it('reads GUIJI_* variables, with DATABASE_URL as a fallback', () => {
    const config = loadConfig({
      env: { GUIJI_HOME: '/tmp/h', DATABASE_URL: 'postgres://u:p@db/x', GUIJI_BATCH_SIZE: '500' },
      cwd: '/tmp',
    });
    expect(config.home).toBe('/tmp/h');
    expect(config.databaseUrl).toBe('postgres://u:p@db/x');
    expect(config.batchSize).toBe(500);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets flags win over the environment', () => {
    const config = loadConfig({ env: { GUIJI_DROP_DIR: '/a' }, overrides: { dropDir: '/b' } });
    expect(config.dropDir).toBe('/b');
  });

  it('names the variable that is malformed', () => {
    expect(() => loadConfig({ env: { GUIJI_BATCH_SIZE: 'lots' } })).toThrow(/GUIJI_BATCH_SIZE/);
    expect(() => loadConfig({ env: { GUIJI_LOG_LEVEL: 'loud' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { GUIJI_DATABASE_URL: 'mysql://x' } })).toThrow(/GUIJI_DATABASE_URL/);
  });

  it('never shows a database password', () => {
    expect(redactUrl('postgres://guiji:s3cret@db:5432/w')).not.toContain('s3cret');
    let message = '';
    try {
      loadConfig({ env: { GUIJI_DATABASE_URL: 'mysql://guiji:s3cret@db/w' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/GUIJI_DATABASE_URL/);
    expect(message).not.toContain('s3cret');
  });

  it('keeps secrets out of the log', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ databaseUrl: 'postgres://u:pw1@h/d', source: { appSecret: 'pw2' }, password: 'pw3' }, 'x');
    expect(out).toContain('"msg":"x"');
    for (const secret of ['pw1', 'pw2', 'pw3']) expect(out).not.toContain(secret);
  });
});

describe('where each setting comes from (guiji doctor)', () => {
  it('tells default, file, environment and flag apart, and which variable gave it', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'guiji-config-'));
    try {
      writeFileSync(join(cwd, 'guiji.config.json'), JSON.stringify({ batchSize: 700, reportDir: 'r' }));
      const { config, origins } = explainConfig({
        cwd,
        env: { GUIJI_BATCH_SIZE: '800', DATABASE_URL: 'postgres://u:pw@db/x' },
        overrides: { dropDir: '/flag' },
      });
      expect(config.batchSize).toBe(800);
      expect(origins.batchSize).toEqual({ origin: 'env', variable: 'GUIJI_BATCH_SIZE' });
      expect(origins.databaseUrl).toEqual({ origin: 'env', variable: 'DATABASE_URL' });
      expect(origins.reportDir).toEqual({ origin: 'file' });
      expect(origins.dropDir).toEqual({ origin: 'flag' });
      expect(origins.home).toEqual({ origin: 'default' });
      expect(Object.keys(origins).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('hides every secret of the settings it prints', () => {
    const explained = explainConfig({
      env: {
        GUIJI_DATABASE_URL: 'postgres://guiji:pw-in-url@db:5432/w?sslpassword=pw-in-query',
        GUIJI_CREDIT_APP_SECRET: 'credit-secret-value',
        GUIJI_SHARING_APP_SECRET: 'sharing-secret-value',
        GUIJI_CREDIT_APP_KEY: 'visible-key',
      },
    });
    const settings = doctorSettings(explained);
    expect(Object.keys(settings)).toEqual(SETTINGS.map((s) => s.env[0]));
    const shown = JSON.stringify(settings);
    for (const secret of ['pw-in-url', 'pw-in-query', 'credit-secret-value', 'sharing-secret-value'])
      expect(shown).not.toContain(secret);
    expect(settings.GUIJI_DATABASE_URL?.value).toBe('postgres://guiji:***@db:5432/w?sslpassword=***');
    expect(settings.GUIJI_CREDIT_APP_SECRET).toEqual({ value: '***', source: 'env' });
    expect(settings.GUIJI_CREDIT_APP_KEY?.value).toBe('visible-key');
    expect(settings.GUIJI_SHARING_URL).toEqual({ value: null, source: 'default' });
  });
});

describe('the error model', () => {
  it('gives CalendarError a code: a bad date is usage, a bad override file configuration', () => {
    expect(new CalendarError("'x' is not a date")).toMatchObject({ code: 'GUIJI_ERR_USAGE' });
    expect(new CalendarError('bad', { file: '/f.json' })).toMatchObject({
      code: 'GUIJI_ERR_CONFIG',
      context: { file: '/f.json' },
    });
    expect(new CalendarError('bad')).toBeInstanceOf(GuijiError);
    expect(exitCodeOf(new CalendarError('bad'))).toBe(2);
  });

  it('turns a real PostgreSQL error into plain words with its SQLSTATE kept', async () => {
    const home = mkdtempSync(join(tmpdir(), 'guiji-errors-'));
    const db = await openWarehouse({ home, databaseUrl: null, schema: 'public' });
    let raw: unknown;
    try {
      await db.query('SELECT 1 LIMIT -5');
    } catch (error) {
      raw = error;
    } finally {
      await db.close();
      rmSync(home, { recursive: true, force: true });
    }
    expect(sqlState(raw)).toBe('2201W');
    const target = { where: 'db.example:5432', setting: 'GUIJI_DATABASE_URL' };
    const wrapped = toGuijiError(raw, target);
    expect(wrapped).toMatchObject({ code: 'GUIJI_ERR_DB', context: { sqlState: '2201W' } });
    expect(wrapped.message).toBe(
      'the warehouse at db.example:5432 (GUIJI_DATABASE_URL) refused: a value was out of range or malformed [SQLSTATE 2201W]',
    );
    expect(wrapped.message).not.toMatch(/LIMIT/);
    expect(wrapped.cause).toBe(raw);
    // not a database error: kept, with a code
    expect(toGuijiError(new TypeError('x is undefined'), target)).toMatchObject({
      code: 'GUIJI_ERR_INTERNAL',
    });
    expect(sqlState({ code: 'EPIPE' })).toBeUndefined();
  });
});
