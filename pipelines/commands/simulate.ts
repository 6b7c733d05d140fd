import { Argument, type Command } from 'commander';
import { PLATFORMS, type SimulateFlags, simulate } from '../simulate/serve.js';

/** `guiji simulate`: a local platform simulator, served until SIGINT or SIGTERM. */
export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'serve a faithful local simulator of a platform on 127.0.0.1 (for tests, the demo and the benchmark)',
    )
    .addArgument(new Argument('<platform>', 'which platform').choices(PLATFORMS))
    .option('--port <port>', 'port (0 = any free one)', '0')
    .option('--records <n>', 'records to serve', '1000')
    .option('--seed <n>', 'random seed', '1')
    .option(
      '--faults <spec>',
      'faults to inject, e.g. "5xx=0.1,timeout=0.05,quota=0.05,expire=0.02,drift=0.01"',
    )
    .option(
      '--clamp-page-size <n>',
      'serve at most n rows a page whatever is asked (a platform that caps it)',
    )
    // --page-size-declared first: defined before its --no- form, the default stays unset (each platform's own)
    .option(
      '--page-size-declared',
      'say the page size in the answers (the sharing platform does not by default)',
    )
    .option('--no-page-size-declared', 'leave the page size out of the answers')
    .option(
      '--short-page <page:rows[:times]>',
      'cut page `page` of every window to `rows` rows, `times` times (or "always")',
    )
    .action(async (platform: string, opts: SimulateFlags) => {
      // the simulator holds no batch in flight: the first signal stops it
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      process.once('SIGTERM', () => controller.abort());
      await simulate(platform, opts, controller.signal);
    });
}
