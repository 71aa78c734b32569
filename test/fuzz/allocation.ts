/**
 * Counts the memory the readers take, by wrapping the typed-array constructors: a request over
 * the limit throws before the memory is taken, so a test of a file that would allocate
 * gigabytes fails quickly instead of exhausting the machine.
 */

const CONSTRUCTORS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
] as const;

export class AllocationLimitExceeded extends Error {
  override name = 'AllocationLimitExceeded';
}

type TypedArrayConstructor = { new (...args: unknown[]): unknown; BYTES_PER_ELEMENT: number };

/** Bytes a typed-array constructor call allocates: a length or a copied array-like, not a view of a buffer. */
function requestedBytes(args: unknown[], bytesPerElement: number): number {
  const [source] = args;
  if (typeof source === 'number') return source * bytesPerElement;
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer)) return 0;
  const length = (source as { length?: unknown } | undefined)?.length;
  return typeof length === 'number' ? length * bytesPerElement : 0;
}

/**
 * Runs `fn` with typed-array allocations counted; throws `AllocationLimitExceeded` (not a
 * `UserError`) as soon as they would pass `limitBytes` in total. Returns what `fn` returned and
 * the bytes it allocated.
 */
export function withAllocationLimit<T>(limitBytes: number, fn: () => T): { value: T; allocatedBytes: number } {
  const globals = globalThis as unknown as Record<string, TypedArrayConstructor>;
  const originals = CONSTRUCTORS.map((name) => [name, globals[name]!] as const);
  let allocatedBytes = 0;
  for (const [name, original] of originals) {
    globals[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        allocatedBytes += requestedBytes(args, target.BYTES_PER_ELEMENT);
        if (allocatedBytes > limitBytes) {
          throw new AllocationLimitExceeded(`${name} allocation brings the total to ${allocatedBytes} bytes, over the limit of ${limitBytes}`);
        }
        return Reflect.construct(target, args, newTarget) as object;
      },
    });
  }
  try {
    return { value: fn(), allocatedBytes };
  } finally {
    for (const [name, original] of originals) globals[name] = original;
  }
}
