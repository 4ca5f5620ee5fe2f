// Settings shared by every test run of the workspace (see vitest.config.ts).
export const sharedTestOptions = {
  // tfjs work on the 2-core CI machine is slow; a test that needs longer says so itself.
  testTimeout: 120_000,
  hookTimeout: 120_000,
  // Separate processes: tfjs keeps global state (backend, registered kernels) per process.
  pool: 'forks' as const,
  maxWorkers: 2,
};
