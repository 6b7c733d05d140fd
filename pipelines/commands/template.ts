import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type Catalog, departmentName, loadCatalog } from '../../catalog/load.js';
import { GuijiError } from '../../lib/errors.js';
import { departmentNamed } from '../quality/departments.js';
import { templateFileName, writeTemplate } from '../template/workbook.js';
import { catalogLocation } from './context.js';

export interface TemplateLocation {
  catalogDir: string;
  schemasDir: string;
}

interface TemplateOptions {
  out?: string;
  all?: boolean;
  outDir?: string;
  /** The department the template is for (its code, name or alias): the template carries it. */
  department?: string;
}

/** The catalog code of `--department` (a code, an exact name or an alias); unknown is a usage error. */
function departmentOption(catalog: Catalog, given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  const code = catalog.departments.find((d) => d.code === given)?.code ?? departmentNamed(catalog, given);
  if (code === undefined) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `template: no department "${given}" in the catalog; known: ${catalog.departments.map((d) => d.code).join(', ')}`,
    );
  }
  return code;
}

/** A template's default file name: `xzcf-模板.xlsx`, or for a department the drops' convention `<部门>_xzcf_模板.xlsx`. */
function defaultFileName(catalog: Catalog, resource: string, department: string | undefined): string {
  return department === undefined
    ? templateFileName(resource)
    : `${departmentName(catalog, department)}_${resource}_模板.xlsx`;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function knownIds(catalog: Catalog): string {
  return [...catalog.resources.keys()].sort().join(', ');
}

/**
 * Writes the templates `template` asks for and returns their paths: one resource to `--out` (default
 * `./<resource>-模板.xlsx`), or with `--all` every resource into `--out-dir` (default the current folder).
 */
export async function runTemplateCommand(
  catalog: Catalog,
  resource: string | undefined,
  opts: TemplateOptions,
  cwd = process.cwd(),
): Promise<string[]> {
  const department = departmentOption(catalog, opts.department);
  const options = department === undefined ? {} : { department };
  if (opts.all) {
    if (resource !== undefined)
      throw new GuijiError('GUIJI_ERR_USAGE', 'template: give a resource or --all, not both');
    if (opts.out !== undefined)
      throw new GuijiError(
        'GUIJI_ERR_USAGE',
        'template --all writes one file per resource: use --out-dir DIR',
      );
    const dir = resolve(cwd, opts.outDir ?? '.');
    mkdirSync(dir, { recursive: true });
    const written: string[] = [];
    // a department's templates: the resources it must deliver
    const own = catalog.departments.find((d) => d.code === department)?.resources;
    for (const id of [...catalog.resources.keys()].sort().filter((r) => !own || own.includes(r))) {
      const file = join(dir, defaultFileName(catalog, id, department));
      await writeTemplate(catalog, id, file, options);
      written.push(file);
    }
    return written;
  }
  if (resource === undefined) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `template: name a resource (${knownIds(catalog)}) or use --all --out-dir DIR`,
    );
  }
  if (opts.outDir !== undefined)
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      'template: --out-dir goes with --all; use --out FILE for one resource',
    );
  if (!catalog.resources.has(resource)) {
    throw new GuijiError(
      'GUIJI_ERR_USAGE',
      `no resource "${resource}" in the catalog; known: ${knownIds(catalog)}`,
    );
  }
  const file = resolve(cwd, opts.out ?? defaultFileName(catalog, resource, department));
  mkdirSync(dirname(file), { recursive: true });
  await writeTemplate(catalog, resource, file, options);
  return [file];
}

/** Adds `template <resource> [--out FILE]` and `template --all [--out-dir DIR]` (issue 3). */
export function registerTemplateCommands(
  program: Command,
  load: () => TemplateLocation = catalogLocation,
): Command {
  return program
    .command('template')
    .description(
      'write the Excel template a department fills for a resource (headers, notes, drop-downs, instructions)',
    )
    .argument('[resource]', 'resource id, e.g. xzcf (see catalog list)')
    .option('--out <file>', 'where to write the workbook (default ./<resource>-模板.xlsx)')
    .option('--all', 'write the template of every resource')
    .option('--out-dir <dir>', 'with --all: the folder to write the templates into (default .)')
    .option(
      '--department <department>',
      "the department the template is for (code, name or alias): it carries it, and --all writes only that department's resources",
    )
    .action(async (resource: string | undefined, opts: TemplateOptions) => {
      const where = load();
      const catalog = loadCatalog(where.catalogDir, where.schemasDir);
      for (const file of await runTemplateCommand(catalog, resource, opts)) print(file);
    });
}
