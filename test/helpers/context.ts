import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, createLogger, type AppContext } from '../../src/context.js';

/** An AppContext over `root` (a fresh temp dir by default) with the given config written to it. */
export function testContext(config: Record<string, unknown>, root = mkdtempSync(join(tmpdir(), 'tlsa-root-'))): AppContext {
  mkdirSync(join(root, 'etc/tlsa-manager'), { recursive: true });
  writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify(config), { mode: 0o600 });
  return createContext({ root, logger: createLogger({ level: 'silent' }) });
}
