import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium (CI installs it and sets GUIJI_CHROMIUM), or null when this machine has none. */
function chromiumPath(): string | null {
  const candidates = [process.env.GUIJI_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return (
      execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
        encoding: 'utf8',
      }).trim() || null
    );
  } catch {
    return null; // none on this machine
  }
}

export const CHROMIUM = chromiumPath();
/** Without a browser a browser test is skipped on a developer's machine only; CI installs Debian's chromium. */
export const SKIP_BROWSER = CHROMIUM === null && !process.env.CI;
