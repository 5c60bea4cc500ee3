import { describe, expect, it } from 'vitest';
import type { ServicePort } from '@skein/protocol';
import type { AppProtocol } from '../dataplane.js';
import { appProtocolOf } from './app-protocol.js';

describe('appProtocolOf', () => {
  it.each<[string, ServicePort, AppProtocol]>([
    ['appProtocol http', { name: 'web', appProtocol: 'http' }, 'http'],
    ['appProtocol kubernetes.io/h2c', { name: 'web', appProtocol: 'kubernetes.io/h2c' }, 'h2c'],
    ['appProtocol grpc', { name: 'api', appProtocol: 'grpc' }, 'grpc'],
    ['appProtocol kubernetes.io/ws', { appProtocol: 'kubernetes.io/ws' }, 'ws'],
    ['appProtocol kubernetes.io/wss', { appProtocol: 'kubernetes.io/wss' }, 'ws'],
    ['appProtocol https', { appProtocol: 'https' }, 'https'],
    ['appProtocol tcp', { appProtocol: 'tcp' }, 'tcp'],
    ['appProtocol wins over the port name', { name: 'http-web', appProtocol: 'tcp' }, 'tcp'],
    ['an unknown appProtocol falls back to the name', { name: 'grpc-api', appProtocol: 'example.com/custom' }, 'grpc'],
    ['name http', { name: 'http' }, 'http'],
    ['name http-web', { name: 'http-web' }, 'http'],
    ['name http2-api', { name: 'http2-api' }, 'h2c'],
    ['name grpc-api', { name: 'grpc-api' }, 'grpc'],
    ['name grpc-web is HTTP/1.1 framed', { name: 'grpc-web' }, 'http'],
    ['name tcp-db', { name: 'tcp-db' }, 'tcp'],
    ['name HTTP-Web (case)', { name: 'HTTP-Web' }, 'http'],
    ['name httpx is no prefix match', { name: 'httpx' }, 'unknown'],
    ['name web', { name: 'web' }, 'unknown'],
    ['no name, no appProtocol', {}, 'unknown'],
  ])('%s', (_label, port, expected) => {
    expect(appProtocolOf(port)).toBe(expected);
  });
});
