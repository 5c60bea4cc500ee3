// tsc does not copy the generated static module; put it beside the compiled code before
// tsc -b runs, so packages that import @skein/protocol see its types.
import { cpSync } from 'node:fs';
cpSync(new URL('../src/gen', import.meta.url), new URL('../dist/gen', import.meta.url), { recursive: true });
