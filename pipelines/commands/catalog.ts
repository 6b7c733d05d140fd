import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { diffCatalogs, formatDiff } from '../../catalog/diff.js';
import { loadCatalog } from '../../catalog/load.js';
import {
  type CatalogProblem,
  describeResource,
  formatResource,
  listResources,
  validateCatalog,
} from '../../catalog/validate.js';
import { GuijiError } from '../../lib/errors.js';
import { catalogLocation } from './context.js';

/** A catalog folder and its schemas: `<dir>/schemas` when present, else `<dir>/../schemas`. */
function locate(dir: string): CatalogLocation {
  const catalogDir = resolve(dir);
  const inside = join(catalogDir, 'schemas');
  return { catalogDir, schemasDir: existsSync(inside) ? inside : join(dirname(catalogDir), 'schemas') };
}

export interface CatalogLocation {
  catalogDir: string;
  schemasDir: string;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A problem as one line: the file relative to the working directory when that is shorter. */
export function formatProblem(p: CatalogProblem): string {
  const rel = relative(process.cwd(), p.file);
  const file = rel && rel.length < p.file.length ? rel : p.file;
  return `${file}: ${p.path}: ${p.message}`;
}

/**
 * Loads the catalog for `list` and `show`, first validating it: a broken catalog is reported like `validate`
 * does (exit code 2) instead of as a crash deep in the loader.
 */
function loadValid(where: CatalogLocation) {
  const result = validateCatalog(where.catalogDir, where.schemasDir);
  if (!result.ok) {
    for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
    throw new GuijiError(
      'GUIJI_ERR_CATALOG',
      `the catalog has ${result.problems.length} problem(s); run 'guiji catalog validate'`,
    );
  }
  return loadCatalog(where.catalogDir, where.schemasDir);
}

/** Adds `catalog validate | list | show <resource>` (issue 3). */
export function registerCatalogCommands(
  program: Command,
  load: () => CatalogLocation = catalogLocation,
): Command {
  const catalog = program
    .command('catalog')
    .description('the resource catalog (《涉企信息归集资源目录》): check it, list it, describe a resource');

  catalog
    .command('validate')
    .description(
      'check the whole catalog: schemas, aliases, keys, code lists, departments, versions, the warehouse columns the fields make (exit 2 when invalid)',
    )
    .option('--json', 'print { ok, problems: [{ file, path, message }] }')
    .action((opts: { json?: boolean }) => {
      const where = load();
      const result = validateCatalog(where.catalogDir, where.schemasDir);
      if (opts.json) print(JSON.stringify(result));
      if (result.ok) {
        if (!opts.json) {
          const resources = loadCatalog(where.catalogDir, where.schemasDir).resources.size;
          print(`catalog ok: ${resources} resources`);
        }
        process.exitCode = 0;
        return;
      }
      for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
      process.stderr.write(`guiji: the catalog has ${result.problems.length} problem(s)\n`);
      process.exitCode = 2;
    });

  catalog
    .command('list')
    .description('every resource: id, name, category, disclosure, current version, number of fields')
    .option('--json', 'print a JSON list')
    .action((opts: { json?: boolean }) => {
      const rows = listResources(loadValid(load()));
      if (opts.json) {
        print(JSON.stringify(rows));
        return;
      }
      const idWidth = Math.max(2, ...rows.map((r) => r.id.length));
      print(`${'id'.padEnd(idWidth)}  category  disclosure  version  fields  name`);
      for (const r of rows)
        print(
          `${r.id.padEnd(idWidth)}  ${r.category.padEnd(8)}  ${r.disclosure.padEnd(10)}  ${r.version.padEnd(7)}  ${String(r.fields).padStart(6)}  ${r.name}`,
        );
    });

  catalog
    .command('show')
    .description(
      'one resource: its fields (title, kind, required, sensitive, severity, aliases), key, deadlines, versions',
    )
    .argument('<resource>', 'resource id, e.g. xzcf (see catalog list)')
    .option('--json', 'print the description as JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const loaded = loadValid(load());
      const description = describeResource(loaded, id);
      if (!description) {
        throw new GuijiError(
          'GUIJI_ERR_USAGE',
          `no resource "${id}" in the catalog; known: ${[...loaded.resources.keys()].sort().join(', ')}`,
        );
      }
      print(opts.json ? JSON.stringify(description) : formatResource(description));
    });

  catalog
    .command('diff')
    .description(
      'added, removed and changed resources and fields between two catalogs (each a folder holding catalog.json, resources/ and, beside it or inside, schemas/)',
    )
    .argument('<from>', 'the older catalog folder')
    .argument('[to]', 'the newer catalog folder (default: the configured catalog)')
    .option('--json', 'print the differences as JSON')
    .action((from: string, to: string | undefined, opts: { json?: boolean }) => {
      const current = load();
      const older = loadValid(locate(from));
      const newer = loadValid(to ? locate(to) : current);
      const diff = diffCatalogs(older, newer);
      print(opts.json ? JSON.stringify(diff) : formatDiff(diff));
    });

  return catalog;
}
