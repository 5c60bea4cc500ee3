// Shares equal strings and lists among the decoded resources the config holds. protobufjs
// decodes every string and repeated field afresh, so 10,000 endpoints carried 10,000 copies of
// their zone, region, node name, hints and port list, each list in a backing store grown for 17
// elements: ~0.7 KB of the ~0.9 KB an endpoint cost in a heap snapshot of the 1,000-Service
// benchmark world. Values are replaced in place and only where the message sets the field (an
// own property), so encoding (the cache file), JSON views and protobuf defaults read the same.
import type { Endpoint, EndpointGroup, EndpointPort, Service, ServicePort } from '@skein/protocol';

/** The shared empty list (repeated fields of decoded messages are own, fresh arrays). */
const EMPTY: readonly never[] = Object.freeze([]);

/** Fields of an EndpointPort, in the order a sharing key lists them. */
const ENDPOINT_PORT_FIELDS = ['name', 'port', 'protocol', 'appProtocol'] as const;

/** Past this many entries a table starts over, so names that come and go cannot grow it for ever. */
const DEFAULT_MAX_ENTRIES = 8192;

/**
 * Interns the low-cardinality values of Services and EndpointGroups: strings (namespaces,
 * zones, regions, node names, port names, app protocols) and whole lists (an endpoint's port
 * list, its hints). Shared lists and the EndpointPorts in them are frozen: nothing may mutate a
 * held resource. Unique values (addresses, pod names) are left alone; other repeated fields get
 * a backing store of their exact length. Tables are bounded; past the bound they start over,
 * which costs sharing, never correctness.
 */
export class ResourceInterner {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, readonly unknown[]>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** Distinct strings and lists held, for tests. */
  get size(): { strings: number; lists: number } {
    return { strings: this.strings.size, lists: this.lists.size };
  }

  /** Compacts `group` in place and returns it. */
  endpointGroup(group: EndpointGroup): EndpointGroup {
    if (Object.isFrozen(group)) return group;
    this.field(group, 'namespace');
    const endpoints = group.endpoints;
    if (Array.isArray(endpoints)) {
      // Endpoints sent with the group's shared_ports hold one array (see expandSharedPorts):
      // its key is computed once, not once per endpoint.
      const seen = { from: EMPTY as readonly EndpointPort[], to: EMPTY as readonly EndpointPort[] };
      for (const endpoint of endpoints) this.endpoint(endpoint, seen);
      if (own(group, 'endpoints')) group.endpoints = exact(endpoints) as Endpoint[];
    }
    if (own(group, 'sharedPorts') && Array.isArray(group.sharedPorts)) group.sharedPorts = this.portList(group.sharedPorts) as EndpointPort[];
    return group;
  }

  /** Compacts `service` in place and returns it. */
  service(service: Service): Service {
    if (Object.isFrozen(service)) return service;
    this.field(service, 'namespace');
    if (own(service, 'ports') && Array.isArray(service.ports)) {
      for (const port of service.ports) if (!Object.isFrozen(port)) this.servicePort(port);
      service.ports = exact(service.ports) as ServicePort[];
    }
    for (const field of ['clusterIps', 'loadBalancerIngress', 'externalIps'] as const) {
      const list = service[field];
      if (own(service, field) && Array.isArray(list)) service[field] = exact(list) as string[];
    }
    return service;
  }

  private endpoint(endpoint: Endpoint, seen: { from: readonly EndpointPort[]; to: readonly EndpointPort[] }): void {
    if (Object.isFrozen(endpoint)) return;
    this.field(endpoint, 'nodeName');
    this.field(endpoint, 'zone');
    this.field(endpoint, 'region');
    for (const field of ['hintsForZones', 'hintsForNodes'] as const) {
      const list = endpoint[field];
      if (own(endpoint, field) && Array.isArray(list)) endpoint[field] = this.stringList(list) as string[];
    }
    const ports = endpoint.ports;
    if (!own(endpoint, 'ports') || !Array.isArray(ports)) return;
    if (ports !== seen.from) {
      seen.from = ports;
      seen.to = this.portList(ports);
    }
    endpoint.ports = seen.to as EndpointPort[];
  }

  private servicePort(port: ServicePort): void {
    this.field(port, 'name');
    this.field(port, 'appProtocol');
    this.field(port, 'targetPortName');
  }

  /** Replaces the string of an own string field with its interned copy. */
  private field<T extends object>(message: T, field: keyof T & string): void {
    const value = message[field];
    if (typeof value === 'string' && own(message, field)) (message as Record<string, unknown>)[field] = this.string(value);
  }

  private string(value: string): string {
    const held = this.strings.get(value);
    if (held !== undefined) return held;
    if (this.strings.size >= this.maxEntries) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }

  private stringList(list: readonly string[]): readonly string[] {
    if (list.length === 0) return EMPTY;
    return this.list(JSON.stringify(list), () => list.map((s) => this.string(s)));
  }

  /** A shared, frozen list of shared, frozen EndpointPorts equal to `ports` (own fields included). */
  private portList(ports: readonly EndpointPort[]): readonly EndpointPort[] {
    if (ports.length === 0) return EMPTY;
    return this.list(JSON.stringify(ports.map(portKey)), () => ports.map((port) => {
      if (Object.isFrozen(port)) return port;
      this.field(port, 'name');
      this.field(port, 'appProtocol');
      return Object.freeze(port);
    }));
  }

  private list<T>(key: string, make: () => T[]): readonly T[] {
    const held = this.lists.get(key);
    if (held !== undefined) return held as readonly T[];
    if (this.lists.size >= this.maxEntries) this.lists.clear();
    const list = Object.freeze(make());
    this.lists.set(key, list);
    return list;
  }
}

/**
 * Which EndpointPort fields are set and to what, and whether it is a decoded message (whose
 * unset fields read as protobuf defaults) or a plain object: ports with equal keys read and
 * encode alike. A list key is the JSON of its ports' keys (lists of strings: the JSON of the list).
 */
function portKey(port: EndpointPort): unknown[] {
  return [Object.getPrototypeOf(port) === Object.prototype, ...ENDPOINT_PORT_FIELDS.map((field) => (own(port, field) ? port[field] : null))];
}

/** `list` with a backing store of its length (decoding grows them by pushes), or the shared empty list. */
function exact<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? EMPTY : list.slice();
}

function own(message: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}
