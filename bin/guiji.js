#!/usr/bin/env -S node --max-old-space-size=300 --initial-old-space-size=128
// The heap is capped at 300 MB: V8 otherwise lets garbage pile up to several times the live data, and the
// pipeline promises to stay under 400 MB whatever the input. The old generation starts at 128 MB: below that,
// V8 collected it every ~100 ms during a load (a fifth of the first run's CPU time went to the collector).
// `node --max-old-space-size=N bin/guiji.js` overrides.
// The installed entry: registers tsx so the TypeScript sources run as they are, without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
