import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, redactUrl } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';

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
