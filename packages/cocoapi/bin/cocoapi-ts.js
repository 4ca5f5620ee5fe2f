#!/usr/bin/env node
// Runs the TypeScript CLI (src/cli.ts) through tsx; the package has no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = main(process.argv.slice(2));
