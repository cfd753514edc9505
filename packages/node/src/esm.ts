// Whether an app is ESM, decided at preload time the way Node decides an entry's format.
import { readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

function readText(file: string, maxBytes: number): string | undefined {
  try {
    return readFileSync(file, { encoding: 'utf8', flag: 'r' }).slice(0, maxBytes);
  } catch {
    return undefined;
  }
}

/** The "type" of the package.json nearest to `file`, as Node resolves a .js file's format. */
function packageType(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const text = readText(join(dir, 'package.json'), 1 << 20);
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Whether the app loads modules through `import`, so that the loader hooks are needed to see
 * them. They cost start-up time (and, in a loader thread of their own, RSS), which a CommonJS
 * app does not pay: there, require-in-the-middle sees every module.
 */
export function appIsEsm(preloadedByImport: boolean, entry: string | undefined, execArgv: string[]): boolean {
  if (preloadedByImport) return true; // --import: the user said so
  if (execArgv.some((a) => /^--(input-type|experimental-default-type)=module$/.test(a))) return true;
  if (!entry) return false; // -e, -p, the REPL: CommonJS
  const ext = extname(entry);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  const type = packageType(entry);
  if (type !== undefined) return type === 'module';
  // No "type": Node looks for ESM syntax in the entry itself.
  return /^\s*(import\s*[\w{*'"]|export\s)/m.test(readText(entry, 64 * 1024) ?? '');
}
