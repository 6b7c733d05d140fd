import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  createRandom,
  ENTERPRISE_HEADER,
  enterpriseRow,
  generateEnterprises,
  generatePenalties,
  PENALTY_HEADER,
  writeDelimited,
} from '../../pipelines/demo/generate.js';
import { runCli } from './cli.js';
import { makeEnv, snapshot, type TestEnv } from './env.js';

/**
 * The input of the interruption tests: a register of 300 enterprises and two penalty files (3,000 and 1,500
 * rows, 5% faulty) in the drop folder, seeded; the first penalty file in `firstEncoding`.
 */
export async function writeDropInput(
  env: TestEnv,
  options: { seed: number; firstEncoding?: 'utf8' | 'gb18030' },
): Promise<void> {
  const incoming = join(env.config.dropDir, 'incoming');
  mkdirSync(incoming, { recursive: true });
  const random = createRandom(options.seed);
  const enterprises = generateEnterprises(random, 300);
  await writeDelimited(
    join(incoming, 'register.csv'),
    ENTERPRISE_HEADER,
    enterprises.map((e) => enterpriseRow(random, e)),
  );
  const a = generatePenalties(random, enterprises, 3000, { faultShare: 0.05 });
  await writeDelimited(join(incoming, 'penalties-a.csv'), PENALTY_HEADER, a.rows, {
    encoding: options.firstEncoding ?? 'utf8',
  });
  const b = generatePenalties(random, enterprises, 1500, { faultShare: 0.05 });
  await writeDelimited(join(incoming, 'penalties-b.csv'), PENALTY_HEADER, b.rows);
}

/**
 * The warehouse as one uninterrupted `guiji run` over `write`'s input leaves it: what an interrupted run and
 * its re-run must end in. Returns the environment (to clean up) and the snapshot.
 */
export async function uninterruptedSnapshot(
  name: string,
  write: (env: TestEnv) => Promise<void>,
  batchSize: string,
): Promise<{ env: TestEnv; reference: Awaited<ReturnType<typeof snapshot>> }> {
  const env = await makeEnv(name);
  await write(env);
  const result = await runCli(['run', '--json'], { ...env.env, GUIJI_BATCH_SIZE: batchSize });
  expect(result.code, result.stderr).toBe(0);
  const db = await env.open();
  let reference: Awaited<ReturnType<typeof snapshot>>;
  try {
    reference = await snapshot(db);
  } finally {
    await db.close();
  }
  expect(reference.records!.length).toBeGreaterThan(4000);
  return { env, reference };
}
