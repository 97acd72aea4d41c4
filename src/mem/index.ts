/** Physical memory and pKVM page-state tracking. */
export * from './intervals.ts';
export * from './phys.ts';
export * from './stage2.ts';
