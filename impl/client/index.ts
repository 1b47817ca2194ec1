/** The config store's TypeScript client: import from here. */
export * from './errors.ts';
export * from './store-client.ts';
export * from './leader-elector.ts';
export * from './cluster-view.ts';
