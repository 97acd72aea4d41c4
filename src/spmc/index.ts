/** The secure world: SPMD (EL3) and SPMC with partitions. */
export * from './rules.ts';
export * from './spmc.ts';
export * from './spmd.ts';
export * from './types.ts';
