// tsc does not copy the generated static module; put it beside the compiled code.
import { cpSync } from 'node:fs';
cpSync(new URL('../src/gen', import.meta.url), new URL('../dist/gen', import.meta.url), { recursive: true });
