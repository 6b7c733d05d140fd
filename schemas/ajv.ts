import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export type { Ajv };

import { identifierFormats } from './identifiers.js';

export type { ErrorObject, ValidateFunction };

/** One ajv for every catalog schema: all errors, guiji's identifier formats, `x-guiji` as an annotation. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'x-guiji', schemaType: 'object' });
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  for (const [name, check] of Object.entries(identifierFormats)) ajv.addFormat(name, check);
  return ajv;
}
