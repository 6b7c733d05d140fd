import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './helpers/cli.js';
import { makeEnv, type TestEnv, WAREHOUSE_KIND } from './helpers/env.js';

describe(`guiji serve as a service (${WAREHOUSE_KIND})`, () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await makeEnv('console-serve');
  });

  afterAll(async () => {
    await env?.cleanup();
  });

  it('refuses to listen off loopback without GUIJI_SERVE_TOKEN (exit 2, saying why)', async () => {
    const r = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('GUIJI_SERVE_TOKEN');
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    const short = await runCli(['serve', '--host', '0.0.0.0'], { ...env.env, GUIJI_SERVE_TOKEN: 'short' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('GUIJI_SERVE_TOKEN');
    expect(short.stderr).not.toContain('short');
    const port = await runCli(['serve', '--port', '70000'], env.env);
    expect(port.code).toBe(2);
  }, 300_000);

  it('serves pages, lets other commands use the warehouse meanwhile, and stops cleanly on SIGTERM', async () => {
    const serve = startCli(['serve', '--port', '0'], { ...env.env, GUIJI_LOG_LEVEL: 'info' });
    let stderr = '';
    serve.child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await serve.waitForLog('console listening');
    // the log line carries the address it listens on
    const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr)?.[1];
    expect(listening, stderr).toBeDefined();
    const home = await fetch(`${listening}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('归集控制台');
    // a run's neighbour: `guiji status` reaches the warehouse the console holds
    const status = await runCli(['status', '--json'], env.env);
    expect(status.code, status.stderr).toBe(0);
    serve.child.kill('SIGTERM');
    const done = await serve.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain('console stopping');
  }, 300_000);
});
