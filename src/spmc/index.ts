/** The secure world: SPMD (EL3) and SPMC with partitions. */
export * from './hostile.ts';
export * from './rules.ts';
export * from './spmc.ts';
export * from './spmd.ts';
export * from './types.ts';
