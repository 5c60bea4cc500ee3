// Builds the one span exporter OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_* name, importing
// only that exporter: each OTLP transport pulls its own stack (protobuf, gRPC), and a sidecar
// should carry in memory only the one it uses.
//
// The binary transports (http/protobuf, gRPC) are OpenTelemetry's own export delegates — HTTP
// or gRPC transport, headers, compression, timeouts, retries with backoff, partial-success
// responses — the very parts its OTLPTraceExporter classes are made of, with one part swapped:
// our OtlpSpanEncoder instead of its protobuf serializer (otlp-span-encoder.ts says why). They
// export requests encoded as the spans ended (span-store.ts says why), not span objects.
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { IExporterMetricsHelper, IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import type { OtlpSpanEncoder } from './otlp-span-encoder.js';
import type { BatchExporter } from './span-queue.js';
import type { EncodedSpans } from './span-store.js';
import type { ExporterSettings, Warn } from './tracing-setup-env.js';

type Compression = NonNullable<NonNullable<ConstructorParameters<typeof JsonExporter>[0]>['compression']>;
type Serializer = {
  serializeRequest(batch: EncodedSpans): Uint8Array;
  deserializeResponse(data: Uint8Array): IExportTraceServiceResponse;
};

/** The exporter the settings name, and what it takes: span objects, or requests encoded by `encoder`. */
export type SpanSink =
  | { readonly type: 'spans'; readonly exporter: SpanExporter }
  | { readonly type: 'encoded'; readonly exporter: BatchExporter<EncodedSpans>; readonly encoder: OtlpSpanEncoder };

/** What OpenTelemetry's exporter metrics count in a batch (its own helper counts span arrays). */
const ENCODED_SPANS: IExporterMetricsHelper<EncodedSpans> = { name: 'span', countItems: (batch) => batch.count };

/** The component types OpenTelemetry's own exporters report for themselves. */
const HTTP_COMPONENT = 'otlp_http_span_exporter';
const GRPC_COMPONENT = 'otlp_grpc_span_exporter';

/** Imports and builds only the exporter the settings name: each OTLP transport pulls its own stack. */
export async function createExporter(settings: ExporterSettings, warn: Warn): Promise<SpanSink> {
  if (settings.type === 'console') {
    const { ConsoleSpanExporter } = await import('@opentelemetry/sdk-trace-base');
    return { type: 'spans', exporter: new ConsoleSpanExporter() };
  }
  const { url, headers, timeoutMillis } = settings;
  const compression = settings.compression as Compression;
  switch (settings.protocol) {
    case 'http/protobuf': {
      const [{ OTLPExporterBase }, http, encoding] = await Promise.all([
        import('@opentelemetry/otlp-exporter-base'), import('@opentelemetry/otlp-exporter-base/node-http'), protobufEncoding(),
      ]);
      const options = http.convertLegacyHttpOptions({ url, headers, timeoutMillis, compression }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
      const exporter = new OTLPExporterBase(http.createOtlpHttpExportDelegate(options, encoding.serializer, HTTP_COMPONENT, ENCODED_SPANS, undefined));
      return { type: 'encoded', exporter, encoder: encoding.encoder };
    }
    case 'http/json': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      return { type: 'spans', exporter: new OTLPTraceExporter({ url, headers, timeoutMillis, compression }) };
    }
    case 'grpc': {
      const [{ OTLPExporterBase }, grpc, encoding] = await Promise.all([
        import('@opentelemetry/otlp-exporter-base'), import('@opentelemetry/otlp-grpc-exporter-base'), protobufEncoding(),
      ]);
      const metadata = Object.keys(headers).length > 0 ? await grpcMetadata(headers, warn) : undefined;
      const options = grpc.convertLegacyOtlpGrpcOptions({ url, timeoutMillis, compression, ...(metadata && { metadata }) }, 'TRACES');
      const exporter = new OTLPExporterBase(grpc.createOtlpGrpcExportDelegate(
        options, encoding.serializer, GRPC_COMPONENT, ENCODED_SPANS, undefined,
        'TraceExportService', '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      ));
      return { type: 'encoded', exporter, encoder: encoding.encoder };
    }
  }
}

async function grpcMetadata(headers: Record<string, string>, warn: Warn): Promise<import('@grpc/grpc-js').Metadata> {
  const { Metadata } = await import('@grpc/grpc-js');
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) {
    try {
      metadata.set(key, value);
    } catch (err) {
      warn({ header: key, error: (err as Error).message }, 'tracing: OTLP header is not valid gRPC metadata; leaving it out');
    }
  }
  return metadata;
}

/** Our encoder, whose requests go out as they are; OpenTelemetry's decoder for the collector's (rare, small) answers. */
async function protobufEncoding(): Promise<{ encoder: OtlpSpanEncoder; serializer: Serializer }> {
  const [{ OtlpSpanEncoder }, { ProtobufTraceSerializer }] = await Promise.all([
    import('./otlp-span-encoder.js'), import('@opentelemetry/otlp-transformer'),
  ]);
  return {
    encoder: new OtlpSpanEncoder(),
    serializer: {
      serializeRequest: (batch) => batch.bytes,
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    },
  };
}
