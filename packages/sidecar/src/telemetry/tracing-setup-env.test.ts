// The OTEL_* reader on its own: defaults, precedence between generic and trace-specific
// variables, and every invalid value warned about and replaced by its default.
import { describe, expect, it } from 'vitest';
import { parseKeyValueList, readTracingEnv, type Env, type TracingSettings } from './tracing-setup-env.js';

function read(env: Env): { settings: TracingSettings; warnings: Array<{ fields: object; message: string }> } {
  const warnings: Array<{ fields: object; message: string }> = [];
  const settings = readTracingEnv(env, (fields, message) => warnings.push({ fields, message }));
  return { settings, warnings };
}

function enabled(env: Env): Extract<TracingSettings, { type: 'enabled' }> & { warnings: string[] } {
  const { settings, warnings } = read(env);
  if (settings.type !== 'enabled') throw new Error(`expected tracing on, got ${JSON.stringify(settings)}`);
  return { ...settings, warnings: warnings.map((w) => w.message) };
}

function otlp(env: Env) {
  const { exporter, warnings } = enabled(env);
  if (exporter.type !== 'otlp') throw new Error(`expected otlp, got ${exporter.type}`);
  return { ...exporter, warnings };
}

describe('readTracingEnv', () => {
  it('defaults to OTLP http/protobuf on localhost, W3C propagation, parent-based always-on sampling', () => {
    expect(read({})).toEqual({
      warnings: [],
      settings: {
        type: 'enabled',
        exporter: { type: 'otlp', protocol: 'http/protobuf', url: 'http://localhost:4318/v1/traces', headers: {}, timeoutMillis: 10_000, compression: 'none' },
        propagators: ['tracecontext', 'baggage'],
        sampler: { parentBased: true, root: { type: 'always_on' } },
        resource: {},
        queue: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000 },
        spanLimits: {
          attributeValueLengthLimit: Infinity, attributeCountLimit: 128, eventCountLimit: 128, linkCountLimit: 128,
          attributePerEventCountLimit: 128, attributePerLinkCountLimit: 128,
        },
      },
    });
    expect(enabled({ OTEL_TRACES_EXPORTER: ' ', OTEL_PROPAGATORS: '' }).propagators).toEqual(['tracecontext', 'baggage']); // empty = unset
  });

  it('turns tracing off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none', () => {
    expect(read({ OTEL_SDK_DISABLED: 'true' }).settings).toEqual({ type: 'disabled', reason: 'OTEL_SDK_DISABLED' });
    expect(read({ OTEL_SDK_DISABLED: ' TRUE ' }).settings.type).toBe('disabled');
    expect(read({ OTEL_TRACES_EXPORTER: 'none' }).settings).toEqual({ type: 'disabled', reason: 'OTEL_TRACES_EXPORTER' });
    expect(read({ OTEL_SDK_DISABLED: 'false' })).toMatchObject({ settings: { type: 'enabled' }, warnings: [] });
    const notBoolean = read({ OTEL_SDK_DISABLED: 'yes' });
    expect(notBoolean.settings.type).toBe('enabled');
    expect(notBoolean.warnings.map((w) => w.message)).toEqual(['tracing: OTEL_SDK_DISABLED must be "true" or "false"; using false']);
  });

  it('chooses the exporter: console, otlp, or otlp with a warning for anything else', () => {
    expect(enabled({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({ exporter: { type: 'console' }, warnings: [] });
    expect(enabled({ OTEL_TRACES_EXPORTER: 'zipkin' })).toMatchObject({
      exporter: { type: 'otlp' }, warnings: ['tracing: OTEL_TRACES_EXPORTER "zipkin" is not supported (otlp, console, none); using otlp'],
    });
    expect(enabled({ OTEL_TRACES_EXPORTER: 'console,otlp' })).toMatchObject({
      exporter: { type: 'console' }, warnings: ['tracing: OTEL_TRACES_EXPORTER lists 2 exporters; the sidecar uses only the first, "console"'],
    });
  });

  it('takes the trace-specific protocol over the generic one, and warns about unknown ones', () => {
    expect(otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).protocol).toBe('grpc');
    expect(otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    expect(otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/thrift' })).toMatchObject({
      protocol: 'http/protobuf', warnings: ['tracing: OTLP protocol "http/thrift" is not one of http/protobuf, http/json, grpc; using http/protobuf'],
    });
  });

  it('builds the HTTP URL: the trace endpoint as is, else the generic endpoint plus v1/traces', () => {
    expect(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url).toBe('http://collector:4318/v1/traces');
    expect(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector/otel/' }).url).toBe('https://collector/otel/v1/traces');
    expect(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' }).url).toBe('http://b:9999/custom');
    expect(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toMatchObject({
      url: 'http://a:4318/v1/traces', warnings: ['tracing: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL; ignoring it'],
    });
  });

  it('passes gRPC endpoints as given, making a scheme-less one plaintext only when INSECURE is true', () => {
    const grpc = (env: Env) => otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', ...env });
    expect(grpc({}).url).toBe('http://localhost:4317');
    expect(grpc({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4317' }).url).toBe('https://collector:4317');
    expect(grpc({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4317', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'b:4317' }).url).toBe('b:4317');
    expect(grpc({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).url).toBe('http://collector:4317');
    expect(grpc({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317', OTEL_EXPORTER_OTLP_INSECURE: 'true', OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'false' }).url)
      .toBe('collector:4317');
    expect(grpc({ OTEL_EXPORTER_OTLP_ENDPOINT: 'bad host:43 17' })).toMatchObject({
      url: 'http://localhost:4317', warnings: ['tracing: OTEL_EXPORTER_OTLP_ENDPOINT is not a URL; using http://localhost:4317'],
    });
  });

  it('merges headers (trace-specific win), decodes them, and never logs a malformed value', () => {
    expect(otlp({
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20generic, x-tenant = shop',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20traces',
    }).headers).toEqual({ authorization: 'Bearer traces', 'x-tenant': 'shop' });
    const { settings, warnings } = read({ OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=shop,api-key=s3cr%ZZet' });
    expect(settings).toMatchObject({ exporter: { headers: {} } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe('tracing: OTEL_EXPORTER_OTLP_HEADERS is malformed; ignoring all of it');
    expect(JSON.stringify(warnings[0])).not.toContain('s3cr');
  });

  it('reads timeout and compression, trace-specific first, warning about invalid values', () => {
    expect(otlp({ OTEL_EXPORTER_OTLP_TIMEOUT: '2500', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' })).toMatchObject({ timeoutMillis: 2500, compression: 'gzip' });
    expect(otlp({ OTEL_EXPORTER_OTLP_TIMEOUT: '2500', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '700', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none' }))
      .toMatchObject({ timeoutMillis: 700, compression: 'none' });
    expect(otlp({ OTEL_EXPORTER_OTLP_TIMEOUT: '-1', OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' })).toMatchObject({
      timeoutMillis: 10_000,
      compression: 'none',
      warnings: [
        'tracing: OTEL_EXPORTER_OTLP_TIMEOUT must be a number above 0; using 10000',
        'tracing: OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none; using none',
      ],
    });
  });

  it('lists propagators in order without duplicates, skipping unknown ones and "none"', () => {
    expect(enabled({ OTEL_PROPAGATORS: 'b3, b3multi,B3' }).propagators).toEqual(['b3', 'b3multi']);
    expect(enabled({ OTEL_PROPAGATORS: 'none' })).toMatchObject({ propagators: [], warnings: [] });
    expect(enabled({ OTEL_PROPAGATORS: 'xray,tracecontext' })).toMatchObject({
      propagators: ['tracecontext'],
      warnings: ['tracing: propagator "xray" is not supported (tracecontext, baggage, b3, b3multi, none); skipping it'],
    });
    expect(enabled({ OTEL_PROPAGATORS: 'none,baggage' })).toMatchObject({
      propagators: ['baggage'], warnings: ['tracing: OTEL_PROPAGATORS lists "none" with other propagators; using the others'],
    });
  });

  it('reads every standard sampler, with OTEL_TRACES_SAMPLER_ARG as the ratio', () => {
    const sampler = (env: Env) => enabled(env).sampler;
    expect(sampler({ OTEL_TRACES_SAMPLER: 'always_on' })).toEqual({ parentBased: false, root: { type: 'always_on' } });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'always_off' })).toEqual({ parentBased: false, root: { type: 'always_off' } });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toEqual({ parentBased: false, root: { type: 'traceidratio', ratio: 0.25 } });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' })).toEqual({ parentBased: true, root: { type: 'always_off' } });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })).toEqual({ parentBased: true, root: { type: 'traceidratio', ratio: 0 } });
    expect(sampler({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' })).toEqual({ parentBased: true, root: { type: 'traceidratio', ratio: 1 } });
    expect(enabled({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toMatchObject({
      sampler: { root: { ratio: 1 } }, warnings: ['tracing: OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1; using 1'],
    });
    expect(enabled({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toMatchObject({
      sampler: { parentBased: true, root: { type: 'always_on' } },
      warnings: ['tracing: OTEL_TRACES_SAMPLER "jaeger_remote" is not supported; using parentbased_always_on'],
    });
  });

  it('reads resource attributes, percent-decoded, with OTEL_SERVICE_NAME over service.name', () => {
    expect(enabled({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs, k8s.cluster.name=east%2C1,team=a%3Db' }).resource)
      .toEqual({ 'service.name': 'from-attrs', 'k8s.cluster.name': 'east,1', team: 'a=b' });
    expect(enabled({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs', OTEL_SERVICE_NAME: 'orders' }).resource).toEqual({ 'service.name': 'orders' });
    expect(enabled({ OTEL_RESOURCE_ATTRIBUTES: 'team=a,broken', OTEL_SERVICE_NAME: 'orders' })).toMatchObject({
      resource: { 'service.name': 'orders' }, warnings: ['tracing: OTEL_RESOURCE_ATTRIBUTES is malformed; ignoring all of it'],
    });
  });

  it('reads the queue settings, capping the batch at the queue size', () => {
    expect(enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10', OTEL_BSP_SCHEDULE_DELAY: '0', OTEL_BSP_EXPORT_TIMEOUT: '250' }).queue)
      .toEqual({ maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMillis: 0, exportTimeoutMillis: 250 });
    expect(enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' })).toMatchObject({
      queue: { maxQueueSize: 100, maxExportBatchSize: 100 },
      warnings: ['tracing: OTEL_BSP_MAX_EXPORT_BATCH_SIZE exceeds OTEL_BSP_MAX_QUEUE_SIZE; using the queue size'],
    });
    expect(enabled({ OTEL_BSP_MAX_QUEUE_SIZE: '1.5', OTEL_BSP_EXPORT_TIMEOUT: '0', OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toMatchObject({
      queue: { maxQueueSize: 2048, exportTimeoutMillis: 30_000, scheduledDelayMillis: 5000 },
      warnings: [
        'tracing: OTEL_BSP_MAX_QUEUE_SIZE must be an integer above 0; using 2048',
        'tracing: OTEL_BSP_SCHEDULE_DELAY must be a number of 0 or more; using 5000',
        'tracing: OTEL_BSP_EXPORT_TIMEOUT must be a number above 0; using 30000',
      ],
    });
  });

  it('reads span limits, span-specific over the general attribute limits', () => {
    expect(enabled({
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '256', OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '32',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '8', OTEL_SPAN_LINK_COUNT_LIMIT: '4', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '2', OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '1',
    }).spanLimits).toEqual({
      attributeValueLengthLimit: 256, attributeCountLimit: 32, eventCountLimit: 8, linkCountLimit: 4, attributePerEventCountLimit: 2, attributePerLinkCountLimit: 1,
    });
  });
});

describe('parseKeyValueList', () => {
  it('parses percent-encoded pairs, skipping empty entries', () => {
    expect(parseKeyValueList('a=1,, b = two%20words ,c=')).toEqual({ a: '1', b: 'two words', c: '' });
  });

  it('names the entry at fault by position, never by content', () => {
    expect(() => parseKeyValueList('a=1,secret')).toThrow('entry 2 is not key=value');
    expect(() => parseKeyValueList('=secret')).toThrow('entry 1 is not key=value');
  });
});
