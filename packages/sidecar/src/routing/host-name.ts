// Host text as clients send it (Host headers, CONNECT authorities, URLs) -> the one form the
// route index is keyed by. Pure: no DNS, no node:net.
import { isIPv4, isIPv6 } from '@skein/protocol';

/**
 * Lower-cases `host`, drops one trailing dot (an absolute DNS name means the same Service)
 * and the brackets around an IPv6 literal. Does not canonicalize IPs: see `canonicalIp`.
 */
export function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h;
}

/**
 * The canonical text of an IP address, or undefined when `text` is not one. IPv4 is kept
 * (the protocol's check already refuses leading zeros); IPv6 is written as RFC 5952 says
 * (lower-case hex, no leading zeros, the longest run of zero groups as "::"), so
 * "FD00:0:0::A" and "fd00::a" find the same ClusterIP.
 */
export function canonicalIp(text: string): string | undefined {
  if (isIPv4(text)) return text;
  // Most hosts are names: skip the (long) IPv6 pattern unless there is a colon to match.
  if (!text.includes(':') || !isIPv6(text)) return undefined;
  const groups = ipv6Groups(text);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** The eight 16-bit groups of a valid IPv6 text (an IPv4 tail becomes two groups). */
function ipv6Groups(text: string): number[] {
  const parse = (half: string): number[] => {
    if (half === '') return [];
    const out: number[] = [];
    for (const part of half.split(':')) {
      if (part.includes('.')) {
        const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const [head = '', tail] = text.split('::');
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
