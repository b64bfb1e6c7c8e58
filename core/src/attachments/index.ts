export * from './reference.js';
export * from './frames.js';
