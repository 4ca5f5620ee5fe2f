/**
 * The entry point as a user runs it (a child process, no TTY): --print-config prints the resolved tree;
 * a wrong override path or type fails with a message naming it; an unknown config name lists the known ones.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../cli_common';

function trainNet(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'tools', 'train_net.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('tools/train_net.ts', () => {
  it('--print-config prints the resolved config tree of the project default', () => {
    const r = trainNet(['--project', 'align-detr', '--print-config', 'model.num_queries=25']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^model:\n {2}_target_: detector\/align_detr$/m);
    expect(r.out).toMatch(/^ {2}num_queries: 25$/m);
    // References follow the override: two_stage_num_proposals = ${..num_queries}.
    expect(r.out).toMatch(/^ {4}two_stage_num_proposals: 25$/m);
    expect(r.out).toMatch(/^ {4}weight_dict:\n(.*\n)* {6}loss_class_dn_0: /m);
  });

  it('a wrong override path fails naming the path and the nearest keys', () => {
    const r = trainNet(['--project', 'align-detr', '--print-config', 'model.criterion.nonexistent=1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/override "model\.criterion\.nonexistent=1": model\.criterion has no key "nonexistent"; nearest valid keys: /);
  });

  it('a value of the wrong type fails naming the path', () => {
    const r = trainNet(['--project', 'dino', '--print-config', 'train.max_iter=many']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/override train\.max_iter: expected a number, got string "many"/);
  });

  it('an unknown config name lists the known configs', () => {
    const r = trainNet(['--project', 'dino', '--config-file', 'dino_r50_nonesuch', '--print-config']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/config file not found: dino_r50_nonesuch\nknown configs:\n(.*\n)*.*dino:dino_r50_4scale_12ep/);
  });

  it('list values split by nx on spaces are joined back', () => {
    const r = trainNet(['--project', 'dino', '--print-config', 'optimizer.betas=[0.8,', '0.9]']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}betas: \[0\.8, 0\.9\]$/m);
  });
});
