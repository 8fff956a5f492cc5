// Garbage-collector setting for the server process (src/main.ts; the SFU benchmark's server does
// the same). V8 sizes the old generation from how fast the program allocates: the less it
// allocates, the closer the next major GC is set to the live heap. With media forwarding, whose
// per-packet path allocates little but runs all the time, that meant a full mark-compact of the
// whole heap (~40 MB with a dozen subscribers) every second or so, the largest single cost of
// forwarding after the socket writes. Letting the old generation grow to twice the live heap
// before the next one cut major GCs from about 30 to about 7 per 20 s at 12 subscribers
// (docs/benchmarks.md, session 5). It costs memory: up to one more live heap's worth.
import v8 from 'node:v8';

const HEAP_GROWING_PERCENT = 100;

export function tuneGarbageCollector(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
