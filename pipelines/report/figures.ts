/**
 * The report's figures, defined once (README "Quality report", STANDARDS.md §7): how metric lines add up to
 * 归集 (rows read), 清洗入库 (loaded), the rejected and late counts, and the two rates computed from them. The
 * cards, the tables by resource and the department × resource matrix all count with these functions.
 */

/** The counts one line of the report sums from `quality_metrics` (a resource, or a department × resource). */
export interface Figures {
  /** 归集: rows the runs loaded or rejected (loaded + quarantined + duplicates). */
  read: number;
  /** 清洗入库: rows written to the warehouse (inserted + updated). */
  loaded: number;
  inserted: number;
  updated: number;
  quarantined: number;
  duplicates: number;
  /** New records measured against the collection deadline, on time and late. */
  measured: number;
  onTime: number;
  late: number;
  /** Public records measured against the publication deadline, and those published late. */
  publishMeasured: number;
  publishLate: number;
}

export function emptyFigures(): Figures {
  return {
    read: 0,
    loaded: 0,
    inserted: 0,
    updated: 0,
    quarantined: 0,
    duplicates: 0,
    measured: 0,
    onTime: 0,
    late: 0,
    publishMeasured: 0,
    publishLate: 0,
  };
}

/** A share, or null when there is nothing to share. */
export function rate(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** 数据合规率: the share of rows read that passed every check (neither quarantined nor duplicate). */
export function complianceRate(f: Pick<Figures, 'read' | 'quarantined' | 'duplicates'>): number | null {
  return rate(f.read - f.quarantined - f.duplicates, f.read);
}

/** 迟报率: the share of measured new records delivered after the collection deadline. */
export function lateRate(f: Pick<Figures, 'late' | 'measured'>): number | null {
  return rate(f.late, f.measured);
}

/** A `volume` metric line: rows read, loaded, inserted, updated, quarantined and rejected as duplicates. */
export function addVolume(f: Figures, measure: string, value: number): void {
  if (measure === 'read') f.read += value;
  else if (measure === 'loaded') f.loaded += value;
  else if (measure === 'inserted') f.inserted += value;
  else if (measure === 'updated') f.updated += value;
  else if (measure === 'quarantined') f.quarantined += value;
  else if (measure === 'duplicates') f.duplicates += value;
}

/** A `timeliness` metric line: the collection deadline counts records measured and late; the publication one, public ones. */
export function addTimeliness(f: Figures, measure: string, value: number, base: number): void {
  if (measure === 'collect_late') {
    f.late += value;
    f.measured += base;
  } else if (measure === 'collect_on_time') f.onTime += value;
  else if (measure === 'publish_late') {
    f.publishLate += value;
    f.publishMeasured += base;
  }
}

/** A metric line (volume or timeliness) into `f`; the other dimensions have tables of their own. */
export function addFigure(f: Figures, dimension: string, measure: string, value: number, base: number): void {
  if (dimension === 'volume') addVolume(f, measure, value);
  else if (dimension === 'timeliness') addTimeliness(f, measure, value, base);
}
