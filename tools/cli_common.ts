/**
 * Shared command-line plumbing of the tools: finding a project's configs, splitting positional
 * arguments into `key=value` overrides and plain inputs (nx splits quoted values on spaces, so
 * `a=[1, 2]` arrives as two words and is joined back), and loading + overriding + resolving a config.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOverrides, loadConfigFile, resolveConfig, type ConfigNode } from '@detr/registry';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every folder of projects/ with a package.json (a new variant is found without registering it here). */
export const PROJECTS = readdirSync(join(REPO_ROOT, 'projects'))
  .filter((d) => existsSync(join(REPO_ROOT, 'projects', d, 'package.json')))
  .sort();

function projectDir(project: string): string {
  const dir = join(REPO_ROOT, 'projects', project);
  if (!existsSync(dir)) throw new Error(`unknown project "${project}"; projects: ${PROJECTS.join(', ')}`);
  return dir;
}

/** Every config file of a project (`projects/<p>/configs/**.ts`), relative names without extension. */
export function listProjectConfigs(project: string): string[] {
  const root = join(projectDir(project), 'configs');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts') && !f.startsWith('_')) out.push(relative(root, p).replace(/\.ts$/, ''));
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

/** The project's default config (package.json "detr.defaultConfig"): its small config on the embedded dataset. */
export function defaultConfigFile(project: string): string {
  const pkg = JSON.parse(readFileSync(join(projectDir(project), 'package.json'), 'utf8')) as { detr?: { defaultConfig?: string } };
  const rel = pkg.detr?.defaultConfig;
  if (!rel) throw new Error(`project ${project} declares no default config (package.json "detr.defaultConfig"); pass --config-file`);
  return join(projectDir(project), rel);
}

/**
 * A config given as a path, or as a name within the project's configs
 * (`aligndetr_k2_r50_4scale_12ep`, `ablations/table5_ia_bce_off`).
 */
export function findConfigFile(spec: string | undefined, project: string | undefined): string {
  if (!spec) {
    if (!project) throw new Error('give --config-file or --project');
    return defaultConfigFile(project);
  }
  for (const candidate of [spec, `${spec}.ts`]) if (existsSync(candidate) && statSync(candidate).isFile()) return resolve(candidate);
  const projects = project ? [project] : PROJECTS;
  const matches: string[] = [];
  for (const p of projects) {
    for (const name of listProjectConfigs(p)) {
      if (name === spec || name.endsWith(`/${spec}`)) matches.push(join(projectDir(p), 'configs', `${name}.ts`));
    }
  }
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw new Error(`config "${spec}" is ambiguous: ${matches.map((m) => relative(REPO_ROOT, m)).join(', ')}`);
  const known = projects.flatMap((p) => listProjectConfigs(p).map((n) => `${p}:${n}`));
  throw new Error(`config file not found: ${spec}${known.length ? `\nknown configs:\n  ${known.join('\n  ')}` : ''}`);
}

/** Split positionals into overrides (`a.b=c`) and other inputs; re-join values nx split on spaces. */
export function splitPositionals(args: string[]): { overrides: string[]; inputs: string[] } {
  const overrides: string[] = [];
  const inputs: string[] = [];
  let pending: string | null = null;
  const depth = (s: string) => (s.match(/[[{(]/g)?.length ?? 0) - (s.match(/[\]})]/g)?.length ?? 0);
  for (const a of args) {
    if (pending !== null) {
      pending += ` ${a}`;
      if (depth(pending) <= 0) {
        overrides.push(pending);
        pending = null;
      }
      continue;
    }
    if (/^\+?[A-Za-z_][\w.]*=/.test(a)) {
      if (depth(a) > 0) pending = a;
      else overrides.push(a);
    } else {
      inputs.push(a);
    }
  }
  if (pending !== null) overrides.push(pending);
  return { overrides, inputs };
}

export interface LoadedConfig {
  file: string;
  raw: ConfigNode;
  resolved: ConfigNode;
}

export async function loadAndResolve(file: string, overrides: string[]): Promise<LoadedConfig> {
  const raw = applyOverrides(await loadConfigFile(file), overrides);
  return { file, raw, resolved: resolveConfig(raw) };
}
