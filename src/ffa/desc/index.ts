/** FF-A descriptors: layouts, parsers, builders, fragmentation and annotated dumps. */

export * from './adversarial.ts';
export * from './annotate.ts';
export * from './layout.ts';
export * from './mem.ts';
export * from './other.ts';
export * from './types.ts';
