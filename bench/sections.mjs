// BENCHMARKS.md is written by several benchmarks, each owning one "## <title>" section that
// ends with a marker comment; replacing a section leaves the others as they are.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const HEADER = '# Skein benchmarks\n\nSpeed and memory goals live here, each measured next to a baseline in the same run. Regenerate a section with the command it names.\n\n';

/** The marker that ends section `title`. */
export const endMarker = (title) => `<!-- end of ${title.toLowerCase()} section -->`;

/**
 * Replaces section `title` of BENCHMARKS.md with `section` (which starts with its heading), or
 * adds it after the section named `after` (else at the end). Returns the file's path.
 */
export function replaceSection(title, section, after) {
  const file = join(root, 'BENCHMARKS.md');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = HEADER;
  }
  const end = endMarker(title);
  const block = `${section.trimEnd()}\n\n${end}\n`;
  const heading = `## ${title}`;
  const start = text.search(new RegExp(`^${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  if (start >= 0) {
    const marker = text.indexOf(end, start);
    const next = text.slice(start + heading.length).search(/^## /m);
    const stop = marker >= 0 ? marker + end.length + 1 : next >= 0 ? start + heading.length + next : text.length;
    text = `${text.slice(0, start)}${block}${text.slice(stop).replace(/^\n*/, '\n')}`;
  } else {
    const anchor = after === undefined ? -1 : text.indexOf(endMarker(after));
    const at = anchor >= 0 ? anchor + endMarker(after).length + 1 : text.length;
    text = `${text.slice(0, at).trimEnd()}\n\n${block}\n${text.slice(at).replace(/^\n*/, '')}`;
  }
  writeFileSync(file, `${text.trimEnd()}\n`);
  return file;
}
