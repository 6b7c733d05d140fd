import { type Command, Option } from 'commander';
import { checkId, type IdKind } from '../../schemas/identifiers.js';
import { writeJson } from './context.js';

/** Adds `id check`: whether codes are valid, and why not (exit 1 when one is not). */
export function registerIdCommands(program: Command): Command {
  const id = program.command('id').description('identifier tools');
  id.command('check')
    .description(
      'check unified social credit codes, organisation codes, registration numbers or resident IDs',
    )
    .addOption(
      new Option('--kind <kind>', 'the kind of identifier (default: guessed)').choices([
        'uscc',
        'org',
        'regno',
        'idcard',
      ]),
    )
    .option('--json', 'one JSON line per code: { input, kind, valid, reason }')
    .argument('[codes...]', 'codes to check (default: one a line on stdin)')
    .action(async (codes: string[], opts: { kind?: IdKind; json?: boolean }) => {
      const inputs = codes.length ? codes : (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '');
      let invalid = 0;
      for (const input of inputs) {
        const check = checkId(input, opts.kind);
        if (!check.valid) invalid++;
        if (opts.json)
          writeJson({
            input,
            kind: check.kind,
            valid: check.valid,
            reason: check.reason,
            reasonZh: check.reasonZh,
          });
        else
          console.log(
            `${check.valid ? 'valid  ' : 'INVALID'}  ${check.kind.padEnd(6)}  ${input}${check.valid ? '' : `  — ${check.reason} (${check.reasonZh})`}`,
          );
      }
      process.exitCode = invalid ? 1 : 0;
    });
  return id;
}

/** Standard input as text, empty on a terminal (nothing piped in). */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
