/** SMCCC 1.2: register files and function-ID fields. */
export * from './fid.ts';
export * from './regs.ts';
