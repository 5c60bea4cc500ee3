// grpc-js integration of library mode: a name resolver for the `skein:` scheme. It resolves
// `skein:///web.demo:50051` through the data plane and hands grpc-js the endpoint addresses
// with a `round_robin` service config, so grpc-js balances every call across them in-process
// and follows endpoint changes. Registered only when the app asks (mesh.grpc), never on import.
import { experimental, status, type ChannelOptions, type ServiceConfig } from '@grpc/grpc-js';
import type { Dataplane } from '../dataplane.js';
import { isDestinationError, serviceTargets } from './service-targets.js';

type Endpoint = experimental.Endpoint;
type StatusOr<T> = experimental.StatusOr<T>;

/** The scheme `mesh.grpc.register()` claims unless told otherwise. */
export const DEFAULT_GRPC_SCHEME = 'skein';

/** Per-call balancing across the endpoints the data plane chose (gRFC A61 names round_robin). */
const SERVICE_CONFIG: ServiceConfig = { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] };

/** What resolvers read from their mesh. */
export interface ResolverSource {
  readonly dataplane: Dataplane;
  /** How long a first resolution waits for an on-demand name. */
  readonly unknownNameWaitMs: number;
  isClosed(): boolean;
}

/** grpc-js helpers of a mesh. */
export interface MeshGrpc {
  /**
   * Makes grpc-js resolve `scheme:` targets (default `skein`) through this mesh. Idempotent.
   * grpc-js keeps one resolver per scheme: the last mesh to register a scheme serves it, so
   * two meshes in one process register different schemes.
   */
  register(options?: { scheme?: string }): void;
  /**
   * The channel target for a mesh name: `target('web.demo:50051')` or `target('web.demo', 50051)`
   * -> "skein:///web.demo:50051". Registers the scheme on first use.
   */
  target(name: string, port?: number): string;
}

/** The `mesh.grpc` object of one mesh. */
export function createMeshGrpc(source: ResolverSource): MeshGrpc {
  let scheme: string | undefined;
  const grpc: MeshGrpc = {
    register(options = {}) {
      const wanted = options.scheme ?? DEFAULT_GRPC_SCHEME;
      if (scheme === wanted) return;
      experimental.registerResolver(wanted, resolverClass(source));
      scheme = wanted;
    },
    target(name, port) {
      if (!scheme) grpc.register();
      const host = name.includes(':') && !name.startsWith('[') && port !== undefined ? `[${name}]` : name;
      return `${scheme!}:///${port === undefined ? host : `${host}:${String(port)}`}`;
    },
  };
  return grpc;
}

/** A Resolver class bound to one mesh (grpc-js constructs resolvers itself, one per channel). */
function resolverClass(source: ResolverSource) {
  return class SkeinResolver implements experimental.Resolver {
    private readonly name: { host: string; port: number } | undefined;
    private readonly useServiceConfig: boolean;
    private unsubscribe: (() => void) | undefined;
    /** What was last reported, so config changes that leave this name alone stay silent. */
    private reported: string | undefined;
    private active = false;
    /** Set while a first-time name is awaited: until then, "no endpoints yet" is not reported. */
    private nameDeadline: number | undefined;
    private timer: ReturnType<typeof setTimeout> | undefined;

    constructor(private readonly target: { path: string }, private readonly listener: experimental.ResolverListener, options: ChannelOptions) {
      const parsed = experimental.splitHostPort(target.path);
      this.name = parsed?.port === undefined ? undefined : { host: parsed.host, port: parsed.port };
      // The app asked to keep its own `grpc.service_config` (as with the dns resolver).
      this.useServiceConfig = !options['grpc.service_config_disable_resolution'];
    }

    static getDefaultAuthority(target: { path: string }): string {
      return target.path;
    }

    /** grpc-js wants results: report the current ones (never synchronously, per the contract). */
    updateResolution(): void {
      this.active = true;
      this.unsubscribe ??= source.dataplane.onChange(() => this.resolve());
      this.reported = undefined;
      queueMicrotask(() => this.resolve());
    }

    destroy(): void {
      this.active = false;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      this.reported = undefined;
    }

    private resolve(): void {
      if (!this.active) return;
      if (source.isClosed()) return this.fail('SKEIN_ERR_CLOSED', 'skein: the mesh is closed');
      if (!this.name) return this.fail('SKEIN_ERR_BAD_TARGET', `skein: gRPC target "${this.target.path}" needs host:port, e.g. skein:///web.demo:50051`);
      const { host, port } = this.name;
      const destination = source.dataplane.resolve(host, port);
      if (destination.type === 'reject' && destination.error.code === 'SKEIN_ERR_UNKNOWN_SERVICE' && this.nameDeadline === undefined) {
        // On-demand discovery: the resolution subscribed the name; wait once for the answer.
        this.nameDeadline = Date.now() + source.unknownNameWaitMs;
        void source.dataplane.whenKnown(host, source.unknownNameWaitMs).then(() => this.resolve());
        return;
      }
      const waiting = this.nameDeadline !== undefined && Date.now() < this.nameDeadline;
      if (waiting && destination.type === 'service' && destination.picker.size === 0) {
        // Its Service came before its endpoints (separate resources): the next change brings
        // them; report the failure only if the wait runs out first.
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.resolve();
        }, this.nameDeadline! - Date.now());
        this.timer.unref?.();
        return;
      }
      if (destination.type === 'reject') return this.fail(destination.error.code, destination.error.message);
      if (destination.type === 'direct') return this.succeed([{ addresses: [{ host: destination.host, port: destination.port }] }]);
      const targets = serviceTargets(source.dataplane, host, port, destination);
      if (isDestinationError(targets)) return this.fail(targets.code, targets.message);
      if (targets.length === 0) return this.fail('SKEIN_ERR_NO_ENDPOINT', `skein: service "${destination.service}" has no endpoint for port ${String(port)}`);
      this.succeed(targets.map((t) => ({ addresses: [{ host: t.address, port: t.port }] })));
    }

    private succeed(endpoints: Endpoint[]): void {
      const key = endpoints.map((e) => JSON.stringify(e.addresses)).sort().join(',');
      this.report(key, experimental.statusOrFromValue(endpoints), '');
    }

    private fail(code: string, message: string): void {
      this.report(`${code} ${message}`, experimental.statusOrFromError({ code: status.UNAVAILABLE, details: `${message} (${code})` }), message);
    }

    private report(key: string, endpoints: StatusOr<Endpoint[]>, note: string): void {
      if (key === this.reported) return;
      this.reported = key;
      this.listener(endpoints, {}, this.useServiceConfig ? experimental.statusOrFromValue(SERVICE_CONFIG) : null, note);
    }
  };
}
