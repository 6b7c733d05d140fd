import type { Command } from 'commander';
import { GuijiError } from '../../lib/errors.js';
import { shanghaiText } from '../../lib/time.js';
import {
  type ExportSummary,
  type PublishResult,
  type PublishStatus,
  publishFeed,
  publishStatus,
} from '../publish/feed.js';
import { prepareWarehouse } from '../warehouse/prepare.js';
import { commandCatalog, commandContext, limitFlag, withWarehouse, writeJson } from './context.js';

/** `guiji publish --out DIR` (the publication feed) and `guiji publish status`. */
export function registerPublishCommands(program: Command): Command {
  const publish = program
    .command('publish')
    .description(
      'write what changed in publication since the last export (new publications, withdrawals) for the national exchange',
    )
    .option(
      '--out <dir>',
      'the folder the export goes into (a sub-folder publish-NNNNNN per export); required',
    )
    .option('--json', 'print { export, lastExport } as JSON (export null when nothing changed)')
    .action(async (opts: { out?: string; json?: boolean }) => {
      // not a required option: `publish status` would ask for it too
      const out = opts.out;
      if (!out) throw new GuijiError('GUIJI_ERR_USAGE', '--out: name the folder the export goes into');
      const ctx = commandContext();
      const catalog = commandCatalog(ctx);
      const result = await withWarehouse(ctx, async (db) => {
        await prepareWarehouse(db, catalog);
        return publishFeed(db, catalog, { outDir: out });
      });
      if (opts.json) writeJson(result);
      else process.stdout.write(`${describeResult(result)}\n`);
    });
  publish
    .command('status')
    .description('the exports made, newest first, and the publication changes waiting for the next one')
    .option('--limit <n>', 'at most this many exports', '20')
    .option('--json', 'print { publicationTables, exports, exportedToEventId, waitingEvents } as JSON')
    .action(async (opts: { limit: string; json?: boolean }) => {
      const limit = limitFlag(opts.limit);
      const ctx = commandContext();
      const catalog = commandCatalog(ctx);
      const status = await withWarehouse(ctx, async (db) => {
        await prepareWarehouse(db, catalog);
        return publishStatus(db, limit);
      });
      if (opts.json) writeJson(status);
      else process.stdout.write(`${describeStatus(status)}\n`);
    });
  return publish;
}

function describeExport(e: ExportSummary): string {
  return (
    `#${e.id}  ${shanghaiText(e.exportedAt)}  新公示 ${e.published} 条，撤下 ${e.withdrawn} 条` +
    `（公示事件 ${e.afterEventId + 1}–${e.toEventId}）  ${e.directory}`
  );
}

function describeResult(result: PublishResult): string {
  if (result.export) return `已导出公示变化 ${describeExport(result.export)}`;
  const last = result.lastExport;
  return last
    ? `自上次导出（#${last.id}，${shanghaiText(last.exportedAt)}）以来没有新的公示变化，未写入任何文件`
    : '还没有任何公示变化可导出，未写入任何文件';
}

function describeStatus(status: PublishStatus): string {
  const lines = status.exports.length
    ? ['公示数据导出（最新在前）：', ...status.exports.map((e) => `  ${describeExport(e)}`)]
    : ['还没有导出过公示数据'];
  lines.push(
    status.publicationTables
      ? `等待下一次导出的公示变化事件：${status.waitingEvents} 条`
      : '仓库中还没有公示状态（publication 表），无可导出的变化',
  );
  return lines.join('\n');
}
