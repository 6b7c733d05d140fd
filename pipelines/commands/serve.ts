import type { Command } from 'commander';
import { checkListenAddress } from '../console/security.js';
import { buildConsole } from '../console/server.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, integerFlag, withWarehouse } from './context.js';

/** `guiji serve`: the web console until SIGTERM (README, "Console"). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('web console over the warehouse (pages in Chinese, JSON under /api) until SIGTERM')
    .option('--port <n>', 'TCP port (0: any free port, logged)', '8080')
    .option('--host <address>', 'address to listen on; any but loopback needs GUIJI_SERVE_TOKEN', '127.0.0.1')
    .action(async (opts: { port: string; host: string }) => {
      const port = integerFlag(opts.port, '--port', 0, 65_535);
      const ctx = commandContext();
      checkListenAddress(opts.host, ctx.config.serveToken);
      const catalog = commandCatalog(ctx);
      const stop = stopOnSignal();
      // like `schedule`, the console holds the embedded warehouse and serves it, so that runs go on meanwhile
      await withWarehouse(
        ctx,
        async (db) => {
          await prepareWarehouse(db, catalog);
          const app = await buildConsole({
            config: ctx.config,
            db,
            catalog,
            logger: ctx.logger,
            token: ctx.config.serveToken,
          });
          const url = await app.listen({ port, host: opts.host });
          ctx.logger.info({ url, actions: ctx.config.serveToken !== null }, 'console listening');
          await stop;
          ctx.logger.info('console stopping');
          await app.close();
        },
        { serve: true },
      );
    });
}

/** Resolves at the first SIGTERM or SIGINT; a second one ends the process at once. */
function stopOnSignal(): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
