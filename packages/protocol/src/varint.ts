// Sizes of protobuf varints, for code that lays out messages by hand (the control plane's
// response sizes, the sidecar's OTLP encoder).

/** Bytes a non-negative integer takes as a protobuf varint. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}
