// Reads the OTEL_* variables the sidecar's tracing honours into typed settings, following the
// OpenTelemetry "SDK environment variables" and "OTLP exporter" specifications. Pure: the
// environment comes in as a map and nothing OpenTelemetry is imported, so a process with
// tracing off loads none of the SDK. Every invalid value is reported once through `warn` and
// replaced by its default (the spec: configuration errors must not stop the SDK).

/** The environment to read; `process.env` in the sidecar process. */
export type Env = Readonly<Record<string, string | undefined>>;
export type Warn = (fields: object, message: string) => void;

/** OTEL_EXPORTER_OTLP_PROTOCOL's values. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
/** OTEL_PROPAGATORS's values the sidecar implements ('none' yields an empty list). */
export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi';

/** Where spans go; everything the exporter needs is resolved here, not from `process.env`. */
export type ExporterSettings =
  | { type: 'console' }
  | {
    type: 'otlp';
    protocol: OtlpProtocol;
    /** http: the full URL spans are POSTed to; grpc: the endpoint as given (scheme picks TLS). */
    url: string;
    headers: Record<string, string>;
    timeoutMillis: number;
    compression: 'gzip' | 'none';
  };

export type RootSampler = { type: 'always_on' } | { type: 'always_off' } | { type: 'traceidratio'; ratio: number };
/** OTEL_TRACES_SAMPLER: a root decision, optionally deferring to a parent's sampled flag. */
export interface SamplerSettings {
  parentBased: boolean;
  root: RootSampler;
}

/** SpanQueue's knobs, from OTEL_BSP_*. */
export interface QueueSettings {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export interface SpanLimitSettings {
  attributeValueLengthLimit: number;
  attributeCountLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export type TracingSettings =
  | { type: 'disabled'; reason: 'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' }
  | {
    type: 'enabled';
    exporter: ExporterSettings;
    propagators: PropagatorName[];
    sampler: SamplerSettings;
    /** OTEL_RESOURCE_ATTRIBUTES with OTEL_SERVICE_NAME applied on top; wins over code defaults. */
    resource: Record<string, string>;
    queue: QueueSettings;
    spanLimits: SpanLimitSettings;
  };

const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
const PROPAGATORS: readonly PropagatorName[] = ['tracecontext', 'baggage', 'b3', 'b3multi'];

export function readTracingEnv(env: Env, warn: Warn): TracingSettings {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined; // the spec: an empty value means unset
  };
  if (readBoolean(get, 'OTEL_SDK_DISABLED', warn)) return { type: 'disabled', reason: 'OTEL_SDK_DISABLED' };
  const exporterName = readExporterName(get, warn);
  if (exporterName === 'none') return { type: 'disabled', reason: 'OTEL_TRACES_EXPORTER' };
  return {
    type: 'enabled',
    exporter: exporterName === 'console' ? { type: 'console' } : readOtlp(get, warn),
    propagators: readPropagators(get, warn),
    sampler: readSampler(get, warn),
    resource: readResource(get, warn),
    queue: readQueue(get, warn),
    spanLimits: readSpanLimits(get, warn),
  };
}

type Get = (name: string) => string | undefined;

function readBoolean(get: Get, name: string, warn: Warn): boolean {
  const value = get(name)?.toLowerCase();
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  warn({ [name]: get(name) }, `tracing: ${name} must be "true" or "false"; using false`);
  return false;
}

function readExporterName(get: Get, warn: Warn): 'otlp' | 'console' | 'none' {
  const raw = get('OTEL_TRACES_EXPORTER');
  if (raw === undefined) return 'otlp';
  const names = raw.toLowerCase().split(',').map((n) => n.trim()).filter(Boolean);
  if (names.length > 1) warn({ OTEL_TRACES_EXPORTER: raw }, `tracing: OTEL_TRACES_EXPORTER lists ${names.length} exporters; the sidecar uses only the first, "${names[0]}"`);
  const name = names[0];
  if (name === 'otlp' || name === 'console' || name === 'none') return name;
  warn({ OTEL_TRACES_EXPORTER: raw }, `tracing: OTEL_TRACES_EXPORTER "${name ?? ''}" is not supported (otlp, console, none); using otlp`);
  return 'otlp';
}

function readOtlp(get: Get, warn: Warn): ExporterSettings {
  const rawProtocol = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? get('OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: OtlpProtocol = 'http/protobuf';
  if (rawProtocol !== undefined) {
    if ((PROTOCOLS as readonly string[]).includes(rawProtocol)) protocol = rawProtocol as OtlpProtocol;
    else warn({ protocol: rawProtocol }, `tracing: OTLP protocol "${rawProtocol}" is not one of ${PROTOCOLS.join(', ')}; using http/protobuf`);
  }
  return {
    type: 'otlp',
    protocol,
    url: protocol === 'grpc' ? grpcUrl(get, warn) : httpUrl(get, warn),
    headers: { ...readHeaders(get, 'OTEL_EXPORTER_OTLP_HEADERS', warn), ...readHeaders(get, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', warn) },
    timeoutMillis: readNumber(get, ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'], 10_000, positive, warn),
    compression: readCompression(get, warn),
  };
}

/** The spec: the signal-specific endpoint is used as is; the generic one gets `v1/traces` appended. */
function httpUrl(get: Get, warn: Warn): string {
  const specific = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (specific !== undefined) {
    if (URL.canParse(specific)) return new URL(specific).href;
    warn({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: specific }, 'tracing: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL; ignoring it');
  }
  const generic = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (generic !== undefined) {
    const url = `${generic.endsWith('/') ? generic : `${generic}/`}v1/traces`;
    if (URL.canParse(url)) return url;
    warn({ OTEL_EXPORTER_OTLP_ENDPOINT: generic }, 'tracing: OTEL_EXPORTER_OTLP_ENDPOINT is not a URL; ignoring it');
  }
  return 'http://localhost:4318/v1/traces';
}

/**
 * gRPC endpoints are used as given: http:// means plaintext, https:// TLS. Without a scheme the
 * exporter picks TLS unless OTEL_EXPORTER_OTLP_(TRACES_)INSECURE is true, which we turn into
 * http:// so the exporter does not consult `process.env` for it.
 */
function grpcUrl(get: Get, warn: Warn): string {
  const name = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const url = get(name);
  if (url === undefined) return 'http://localhost:4317';
  const hasScheme = /^[\w+.-]+:\/\//.test(url);
  if (!URL.canParse(hasScheme ? url : `https://${url}`)) {
    warn({ [name]: url }, `tracing: ${name} is not a URL; using http://localhost:4317`);
    return 'http://localhost:4317';
  }
  if (hasScheme) return url;
  const insecure = (get('OTEL_EXPORTER_OTLP_TRACES_INSECURE') ?? get('OTEL_EXPORTER_OTLP_INSECURE'))?.toLowerCase() === 'true';
  return insecure ? `http://${url}` : url;
}

/** `key=value` pairs, comma separated, percent-decoded (the W3C baggage format the spec names). */
function readHeaders(get: Get, name: string, warn: Warn): Record<string, string> {
  const raw = get(name);
  if (raw === undefined) return {};
  try {
    return parseKeyValueList(raw);
  } catch (err) {
    warn({ [name]: '(redacted)', error: (err as Error).message }, `tracing: ${name} is malformed; ignoring all of it`);
    return {};
  }
}

function readCompression(get: Get, warn: Warn): 'gzip' | 'none' {
  const name = get('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION' : 'OTEL_EXPORTER_OTLP_COMPRESSION';
  const value = get(name)?.toLowerCase();
  if (value === undefined || value === 'none' || value === 'gzip') return value ?? 'none';
  warn({ [name]: value }, `tracing: ${name} must be gzip or none; using none`);
  return 'none';
}

function readPropagators(get: Get, warn: Warn): PropagatorName[] {
  const raw = get('OTEL_PROPAGATORS') ?? 'tracecontext,baggage';
  const names = [...new Set(raw.toLowerCase().split(',').map((n) => n.trim()).filter(Boolean))];
  const chosen: PropagatorName[] = [];
  for (const name of names) {
    if ((PROPAGATORS as readonly string[]).includes(name)) chosen.push(name as PropagatorName);
    else if (name !== 'none') warn({ OTEL_PROPAGATORS: raw }, `tracing: propagator "${name}" is not supported (${PROPAGATORS.join(', ')}, none); skipping it`);
  }
  if (names.includes('none') && chosen.length > 0) warn({ OTEL_PROPAGATORS: raw }, 'tracing: OTEL_PROPAGATORS lists "none" with other propagators; using the others');
  return chosen;
}

function readSampler(get: Get, warn: Warn): SamplerSettings {
  const name = get('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  const ratio = (): RootSampler => ({ type: 'traceidratio', ratio: readNumber(get, ['OTEL_TRACES_SAMPLER_ARG'], 1, unitInterval, warn) });
  switch (name) {
    case 'always_on': return { parentBased: false, root: { type: 'always_on' } };
    case 'always_off': return { parentBased: false, root: { type: 'always_off' } };
    case 'traceidratio': return { parentBased: false, root: ratio() };
    case 'parentbased_always_on': return { parentBased: true, root: { type: 'always_on' } };
    case 'parentbased_always_off': return { parentBased: true, root: { type: 'always_off' } };
    case 'parentbased_traceidratio': return { parentBased: true, root: ratio() };
    default:
      warn({ OTEL_TRACES_SAMPLER: name }, `tracing: OTEL_TRACES_SAMPLER "${name}" is not supported; using parentbased_always_on`);
      return { parentBased: true, root: { type: 'always_on' } };
  }
}

/** The spec: a malformed OTEL_RESOURCE_ATTRIBUTES is discarded whole; OTEL_SERVICE_NAME wins over it. */
function readResource(get: Get, warn: Warn): Record<string, string> {
  let attributes: Record<string, string> = {};
  const raw = get('OTEL_RESOURCE_ATTRIBUTES');
  if (raw !== undefined) {
    try {
      attributes = parseKeyValueList(raw);
    } catch (err) {
      warn({ OTEL_RESOURCE_ATTRIBUTES: raw, error: (err as Error).message }, 'tracing: OTEL_RESOURCE_ATTRIBUTES is malformed; ignoring all of it');
    }
  }
  const serviceName = get('OTEL_SERVICE_NAME');
  if (serviceName !== undefined) attributes['service.name'] = serviceName;
  return attributes;
}

function readQueue(get: Get, warn: Warn): QueueSettings {
  const maxQueueSize = readNumber(get, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048, positiveInteger, warn);
  let maxExportBatchSize = readNumber(get, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'], 512, positiveInteger, warn);
  if (maxExportBatchSize > maxQueueSize) {
    // The spec: the batch size must be less than or equal to the queue size.
    warn({ maxExportBatchSize, maxQueueSize }, 'tracing: OTEL_BSP_MAX_EXPORT_BATCH_SIZE exceeds OTEL_BSP_MAX_QUEUE_SIZE; using the queue size');
    maxExportBatchSize = maxQueueSize;
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: readNumber(get, ['OTEL_BSP_SCHEDULE_DELAY'], 5000, nonNegative, warn),
    exportTimeoutMillis: readNumber(get, ['OTEL_BSP_EXPORT_TIMEOUT'], 30_000, positive, warn),
  };
}

function readSpanLimits(get: Get, warn: Warn): SpanLimitSettings {
  const limit = (names: string[], fallback: number): number => readNumber(get, names, fallback, nonNegativeInteger, warn);
  return {
    attributeValueLengthLimit: limit(['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'], Infinity),
    attributeCountLimit: limit(['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], 128),
    eventCountLimit: limit(['OTEL_SPAN_EVENT_COUNT_LIMIT'], 128),
    linkCountLimit: limit(['OTEL_SPAN_LINK_COUNT_LIMIT'], 128),
    attributePerEventCountLimit: limit(['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT'], 128),
    attributePerLinkCountLimit: limit(['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT'], 128),
  };
}

type Check = { test: (n: number) => boolean; wants: string };
const positive: Check = { test: (n) => n > 0, wants: 'a number above 0' };
const nonNegative: Check = { test: (n) => n >= 0, wants: 'a number of 0 or more' };
const positiveInteger: Check = { test: (n) => Number.isInteger(n) && n > 0, wants: 'an integer above 0' };
const nonNegativeInteger: Check = { test: (n) => Number.isInteger(n) && n >= 0, wants: 'an integer of 0 or more' };
const unitInterval: Check = { test: (n) => n >= 0 && n <= 1, wants: 'a number from 0 to 1' };

/** The first of `names` that is set decides; an invalid value falls back to the default, not to the next name. */
function readNumber(get: Get, names: string[], fallback: number, check: Check, warn: Warn): number {
  const name = names.find((n) => get(n) !== undefined);
  if (name === undefined) return fallback;
  const raw = get(name)!;
  const value = Number(raw);
  if (Number.isFinite(value) && check.test(value)) return value;
  warn({ [name]: raw }, `tracing: ${name} must be ${check.wants}; using ${fallback}`);
  return fallback;
}

/** `k1=v1,k2=v2` with percent-encoded keys and values; throws on an entry without a key or with a bad escape. */
export function parseKeyValueList(raw: string): Record<string, string> {
  const result: Record<string, string> = {};
  // Errors name the entry's position, not its text: header values carry credentials.
  for (const [i, entry] of raw.split(',').entries()) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const key = eq < 0 ? '' : decodeURIComponent(entry.slice(0, eq).trim());
    if (!key) throw new Error(`entry ${i + 1} is not key=value`);
    result[key] = decodeURIComponent(entry.slice(eq + 1).trim());
  }
  return result;
}
