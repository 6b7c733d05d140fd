import type { Knex } from 'knex';

/** GB 11643's weights of an ID number's first 17 digits (schemas/identifiers.ts has the same). */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** Σ digit × weight of `value`'s first 17 characters, as SQL (only evaluated on 17 digits). */
const ID_SUM = ID_WEIGHTS.map((w, i) => `substr(value, ${i + 1}, 1)::int * ${w}`).join(' + ');

/**
 * What the public sees of a person (issue 14, STANDARDS.md §8): the masking functions the generated views
 * call (pipelines/warehouse/views.ts), the lists of overdue records masked as the public views are, and the
 * record of the publication feed's exports.
 *
 * The functions are single SQL expressions without a FROM (`guiji_mask_key_ids` aside) so that PostgreSQL
 * inlines them into the views' queries, and none calls another: a reader whose search_path lacks guiji's
 * schema still reads the views.
 */
const STATEMENTS = [
  // an identifier keeps its first 6 and last 4 characters (340104********1234); a short one is all stars
  `CREATE OR REPLACE FUNCTION guiji_mask_id(value text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT CASE WHEN char_length(value) > 10
                         THEN left(value, 6) || repeat('*', char_length(value) - 10) || right(value, 4)
                         ELSE repeat('*', char_length(value)) END $fn$`,
  // a natural person's name keeps its first character (the surname) and two stars whatever its length
  `CREATE OR REPLACE FUNCTION guiji_mask_name(value text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT CASE WHEN value = '' THEN value WHEN char_length(value) = 1 THEN '*'
                         ELSE left(value, 1) || '**' END $fn$`,
  // (knex reads a ? as a binding: the regular expression's are written \\?)
  // free text (facts, content) with every resident-ID-shaped run of 18 characters masked to its first 6 and
  // last 4: a department that writes the party's ID number into the facts does not publish it
  `CREATE OR REPLACE FUNCTION guiji_mask_ids_in_text(value text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT regexp_replace(value,
       '(\\?<![0-9A-Za-z])([0-9]{6})(\\?:18|19|20)[0-9]{2}(\\?:0[1-9]|1[0-2])(\\?:0[1-9]|[12][0-9]|3[01])([0-9]{3}[0-9Xx])(\\?![0-9A-Za-z])',
       '\\1********\\2', 'g') $fn$`,
  // a natural key (parts joined by |) with every part equal to `part` replaced by `masked` (twice: a
  // replace() does not see a match that shares its | with the one before)
  `CREATE OR REPLACE FUNCTION guiji_mask_key_part(key text, part text, masked text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT CASE WHEN part IS NULL OR part = '' OR masked IS NULL THEN key
                         ELSE left(right(replace(replace('|' || key || '|', '|' || part || '|', '|' || masked || '|'),
                                                 '|' || part || '|', '|' || masked || '|'), -1), -1) END $fn$`,
  // an 18-character resident ID by its shape: 17 digits with a birth date in 7–14, and its check character
  `CREATE OR REPLACE FUNCTION guiji_is_resident_id(value text) RETURNS boolean
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT CASE WHEN value ~ '^[0-9]{6}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]$'
                         THEN substr('10X98765432', (${ID_SUM}) % 11 + 1, 1) = right(value, 1)
                         ELSE false END $fn$`,
  // a natural key with every part shaped as a resident ID masked: for keys stored before the views masked
  // them, whose resource is no longer known (the overdue lists of earlier runs)
  `CREATE OR REPLACE FUNCTION guiji_mask_key_ids(key text) RETURNS text
     LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $fn$ SELECT coalesce(string_agg(CASE WHEN guiji_is_resident_id(p) THEN guiji_mask_id(p) ELSE p END, '|'
                                        ORDER BY n), key)
             FROM unnest(string_to_array(key, '|')) WITH ORDINALITY AS x(p, n) $fn$`,
  // The overdue lists keep the key and name as the public view shows them (the quality step writes
  // natural_key_public): two people's masked keys may be alike, so the record id tells the rows apart.
  `ALTER TABLE quality_overdue ADD COLUMN record_id bigint`,
  `ALTER TABLE quality_overdue DROP CONSTRAINT quality_overdue_pkey`,
  `CREATE UNIQUE INDEX quality_overdue_record ON quality_overdue (run_id, resource, record_id)`,
  `CREATE INDEX quality_overdue_run ON quality_overdue (run_id, workdays DESC)`,
  // the lists stored before: an ID number in the key is masked, and the name beside it (a person's)
  `UPDATE quality_overdue
   SET natural_key = guiji_mask_key_ids(natural_key),
       subject_name = CASE WHEN guiji_mask_key_ids(natural_key) <> natural_key THEN guiji_mask_name(subject_name)
                           ELSE subject_name END
   WHERE guiji_mask_key_ids(natural_key) <> natural_key`,
  // The publication feed (issue 14 item 8, pipelines/publish/feed.ts): one row per export written, with the
  // range of publication_events it covers (after_event_id < id <= to_event_id) and its manifest
  `CREATE TABLE publication_exports (
    id bigserial PRIMARY KEY,
    exported_at timestamptz NOT NULL,
    after_event_id bigint NOT NULL,
    to_event_id bigint NOT NULL CHECK (to_event_id > after_event_id),
    published integer NOT NULL,
    withdrawn integer NOT NULL,
    directory text NOT NULL,
    manifest jsonb NOT NULL
  )`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of STATEMENTS) await knex.raw(sql);
}

export async function down(): Promise<void> {
  throw new Error('guiji migrations are forward-only');
}
