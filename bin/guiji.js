#!/usr/bin/env node
// The installed entry: registers tsx so the TypeScript sources run as they are, without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
