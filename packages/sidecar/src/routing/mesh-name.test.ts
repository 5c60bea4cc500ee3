import { describe, expect, it } from 'vitest';
import { meshNameOf, type MeshNameContext } from './mesh-name.js';

const context: MeshNameContext = {
  namespace: 'demo',
  clusterDomain: 'cluster.local',
  knowsNamespace: (ns) => ns === 'demo' || ns === 'shop',
  knowsService: (key) => key === 'demo/db',
};

describe('meshNameOf', () => {
  it.each<[string, string | undefined | null]>([
    // [host, resource to subscribe; undefined: mesh-looking but no Service; null: not a mesh name]
    ['cart', 'demo/cart'],
    ['cart.shop', 'shop/cart'],
    ['cart.other', null],
    ['cart.shop.svc', 'shop/cart'],
    ['cart.other.svc', 'other/cart'],
    ['cart.other.svc.cluster.local', 'other/cart'],
    ['web-0.cart.other.svc.cluster.local', 'other/cart'],
    ['web-0.cart.shop', 'shop/cart'],
    ['web-0.db', 'demo/db'],
    ['x.svc', undefined],
    ['a.b.c.d.svc.cluster.local', undefined],
    ['node-1.cluster.local', undefined],
    ['cluster.local', undefined],
    ['localhost', null],
    ['10', null],
    ['example.com', null],
    ['www.example.com', null],
    ['under_score', null],
  ])('%s', (host, expected) => {
    const result = meshNameOf(host, context);
    if (expected === null) expect(result).toBeUndefined();
    else expect(result).toEqual({ resource: expected });
  });
});
