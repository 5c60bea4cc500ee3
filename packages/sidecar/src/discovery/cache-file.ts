// The last good config on disk, so a restarted sidecar serves from it until the control plane
// answers (ARCHITECTURE section 5). Written atomically (temp file in the same directory, fsync,
// rename) so a crash leaves either the old or the new file, never a torn one; loaded through
// the same decode + validate path as the stream.
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  encodeEndpointGroup, encodeService, isResourceType, RESOURCE_TYPES, TYPE_SERVICE,
  type EndpointGroup, type ResourceType, type Service,
} from '@skein/protocol';
import { noopLogger, type Logger } from '../logger.js';
import type { ConfigUpdate, IncomingResource, MeshConfig } from './mesh-config.js';

/** Bumped when the layout changes; a file of another version is ignored (and rewritten). */
export const CACHE_FORMAT_VERSION = 1;

/** One resource in the file: its protocol encoding, base64. */
export interface CacheEntry {
  typeUrl: string;
  name: string;
  version: string;
  body: string;
}

export interface CacheDocument {
  formatVersion: typeof CACHE_FORMAT_VERSION;
  savedAt: string;
  resources: CacheEntry[];
}

/** Coalesces bursts of changes into one write. */
const WRITE_DELAY_MS = 200;

/** Reads and writes the config cache file at `path`. */
export class CacheFile {
  private readonly logger: Logger;
  private unsubscribe: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private loaded = false;
  private tmpCounter = 0;
  /** Encodings by decoded body: bodies are replaced on change, so unchanged ones are not encoded again. */
  private readonly encodings = new WeakMap<object, string>();

  constructor(readonly path: string, private readonly config: MeshConfig, logger?: Logger) {
    this.logger = logger ?? noopLogger;
  }

  /**
   * Applies the cached config and marks it ready. A missing, corrupt or outdated file is a
   * reason, never an exception. Skipped when the config is already ready (the server was faster).
   */
  async load(): Promise<{ loaded: boolean; reason?: string }> {
    const result = await this.read();
    if (!result.loaded) this.logger.info({ path: this.path, reason: result.reason }, 'cache file: not loaded');
    return result;
  }

  /** Writes the config after each change (debounced), from now on. */
  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.config.onChange(() => this.schedule());
    // Ready before we subscribed and not from this file: nothing else would write it soon.
    if (this.config.ready && !this.loaded) this.schedule();
  }

  /** Stops watching and flushes a pending write. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing || this.dirty) {
      if (this.writing) await this.writing;
      else this.flush();
    }
  }

  private async read(): Promise<{ loaded: boolean; reason?: string }> {
    if (this.config.ready) return { loaded: false, reason: 'the config is already ready' };
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { loaded: false, reason: code === 'ENOENT' ? `no cache file at ${this.path}` : `cannot read ${this.path}: ${(err as Error).message}` };
    }
    let doc: Partial<CacheDocument>;
    try {
      doc = JSON.parse(text) as Partial<CacheDocument>;
    } catch (err) {
      return { loaded: false, reason: `${this.path} is not JSON: ${(err as Error).message}` };
    }
    if (typeof doc !== 'object' || doc === null || doc.formatVersion !== CACHE_FORMAT_VERSION || !Array.isArray(doc.resources)) {
      return { loaded: false, reason: `${this.path} is not a format ${CACHE_FORMAT_VERSION} cache file` };
    }
    const byType = new Map<ResourceType, IncomingResource[]>(RESOURCE_TYPES.map((t) => [t, []]));
    let malformed = 0;
    for (const entry of doc.resources as unknown[]) {
      const e = entry as Partial<CacheEntry> | null;
      if (!e || typeof e.name !== 'string' || typeof e.version !== 'string' || typeof e.body !== 'string' || !isResourceType(e.typeUrl ?? '')) {
        malformed++;
        continue;
      }
      byType.get(e.typeUrl as ResourceType)!.push({ name: e.name, version: e.version, body: Buffer.from(e.body, 'base64') });
    }
    if (this.config.ready) return { loaded: false, reason: 'the config became ready while reading the cache' };
    const updates = [...byType].map(([typeUrl, resources]) => ({ typeUrl, update: { resources, removed: [], replace: true } satisfies ConfigUpdate }));
    const results = this.config.applyAll(updates);
    const rejected = results.flatMap((r) => r.rejected);
    const total = doc.resources.length;
    if (total > 0 && rejected.length + malformed === total) {
      return { loaded: false, reason: `every resource in ${this.path} was rejected (${rejected[0]?.message ?? 'malformed entry'})` };
    }
    if (rejected.length > 0 || malformed > 0) {
      this.logger.warn({ path: this.path, rejected, malformed }, 'cache file: some resources were rejected; loaded the rest');
    }
    this.config.markReady();
    this.loaded = true;
    this.logger.info({ path: this.path, resources: total - rejected.length - malformed, savedAt: doc.savedAt }, 'cache file: loaded the last good config');
    return { loaded: true };
  }

  private schedule(): void {
    // A partial config (one type answered) must never become the file a restart trusts.
    if (!this.config.ready) return;
    this.dirty = true;
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.dirty || this.writing) return;
    this.dirty = false;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.dirty && this.unsubscribe) this.timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
    });
  }

  private async write(): Promise<void> {
    const doc: CacheDocument = { formatVersion: CACHE_FORMAT_VERSION, savedAt: new Date().toISOString(), resources: [] };
    for (const typeUrl of RESOURCE_TYPES) {
      for (const [name, held] of this.config.resources(typeUrl)) {
        doc.resources.push({ typeUrl, name, version: held.version, body: this.encode(typeUrl, held.body) });
      }
    }
    const dir = dirname(this.path);
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.${++this.tmpCounter}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(tmp, 'w', 0o644);
      try {
        await handle.writeFile(JSON.stringify(doc));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      await syncDirectory(dir);
    } catch (err) {
      this.logger.warn({ path: this.path, err }, 'cache file: cannot write; will try again on the next change');
      await unlink(tmp).catch(() => undefined);
    }
  }

  private encode(typeUrl: ResourceType, body: Service | EndpointGroup): string {
    let text = this.encodings.get(body);
    if (text === undefined) {
      const bytes = typeUrl === TYPE_SERVICE ? encodeService(body as Service) : encodeEndpointGroup(body as EndpointGroup);
      text = Buffer.from(bytes).toString('base64');
      this.encodings.set(body, text);
    }
    return text;
  }
}

/** Makes the rename itself durable; not every platform can open a directory, so best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows and some filesystems refuse; the rename is still atomic.
  }
}
