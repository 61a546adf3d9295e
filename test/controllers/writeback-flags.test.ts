// Write-back settings: `ghosteam operator` and `ghosteam install` flags (exact messages), and the
// install manifests (args, secretKeyRef env, RBAC unchanged).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gitWriteBackFlags } from '../../cli/commands/operator.ts';
import { installGitWriteBack } from '../../cli/commands/install.ts';
import { operatorInstallManifests, OPERATOR_RULES } from '../../charts/operator-install.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/ghosteam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig' } });
const NOT_GIVEN = { gitBranch: false, lockFile: false };

describe('ghosteam operator --git-repo', () => {
  test('off without --git-repo', () => {
    assert.equal(gitWriteBackFlags({ gitBranch: 'main', lockFile: 'models.lock.json' }, NOT_GIVEN, {}), undefined);
  });

  test('a URL stays as given, a path is resolved, credentials come from the environment only', () => {
    assert.deepEqual(
      gitWriteBackFlags({ gitRepo: 'https://git.example/acme/ml.git', gitBranch: 'release/1', lockFile: 'deploy/models.lock.json' }, NOT_GIVEN, {
        GHOSTEAM_GIT_TOKEN: 'tok-123',
      }),
      {
        repo: 'https://git.example/acme/ml.git',
        branch: 'release/1',
        lockFile: 'deploy/models.lock.json',
        credentials: { username: 'x-access-token', password: 'tok-123' },
      },
    );
    assert.deepEqual(
      gitWriteBackFlags({ gitRepo: 'git@git.example:acme/ml.git', gitBranch: 'main', lockFile: 'models.lock.json' }, NOT_GIVEN, {
        GHOSTEAM_GIT_USERNAME: 'bot',
        GHOSTEAM_GIT_PASSWORD: 'pw-9',
      }),
      {
        repo: 'git@git.example:acme/ml.git',
        branch: 'main',
        lockFile: 'models.lock.json',
        credentials: { username: 'bot', password: 'pw-9' },
      },
    );
    assert.equal(gitWriteBackFlags({ gitRepo: 'some/dir', gitBranch: 'main', lockFile: 'models.lock.json' }, NOT_GIVEN, {})?.repo, `${process.cwd()}/some/dir`);
  });

  const errors: Array<[string, Parameters<typeof gitWriteBackFlags>[0], Parameters<typeof gitWriteBackFlags>[1], string]> = [
    [
      '--git-branch alone',
      { gitBranch: 'dev', lockFile: 'models.lock.json' },
      { gitBranch: true, lockFile: false },
      '--git-branch needs --git-repo <url> (the repository to write promoted versions back to)',
    ],
    [
      '--lock-file alone',
      { gitBranch: 'main', lockFile: 'deploy/models.lock.json' },
      { gitBranch: false, lockFile: true },
      '--lock-file needs --git-repo <url> (the repository to write promoted versions back to)',
    ],
    [
      'an empty repo',
      { gitRepo: ' ', gitBranch: 'main', lockFile: 'models.lock.json' },
      NOT_GIVEN,
      '--git-repo needs a Git URL (https://, ssh://, git@host:path) or a path to a repository',
    ],
    [
      'a branch with a space',
      { gitRepo: 'r', gitBranch: 'my branch', lockFile: 'models.lock.json' },
      NOT_GIVEN,
      "--git-branch 'my branch' is not a valid branch name (see git check-ref-format)",
    ],
    [
      'a branch with ..',
      { gitRepo: 'r', gitBranch: 'a..b', lockFile: 'models.lock.json' },
      NOT_GIVEN,
      "--git-branch 'a..b' is not a valid branch name (see git check-ref-format)",
    ],
    [
      'a branch ending in .lock',
      { gitRepo: 'r', gitBranch: 'x.lock', lockFile: 'models.lock.json' },
      NOT_GIVEN,
      "--git-branch 'x.lock' is not a valid branch name (see git check-ref-format)",
    ],
    [
      'an absolute lock file',
      { gitRepo: 'r', gitBranch: 'main', lockFile: '/etc/models.lock.json' },
      NOT_GIVEN,
      "--lock-file '/etc/models.lock.json' must be a path inside the repository, relative to its root, e.g. deploy/models.lock.json",
    ],
    [
      'a lock file outside the repository',
      { gitRepo: 'r', gitBranch: 'main', lockFile: 'deploy/../../models.lock.json' },
      NOT_GIVEN,
      "--lock-file 'deploy/../../models.lock.json' must be a path inside the repository, relative to its root, e.g. deploy/models.lock.json",
    ],
    [
      'a lock file with another name',
      { gitRepo: 'r', gitBranch: 'main', lockFile: 'deploy/pins.json' },
      NOT_GIVEN,
      "--lock-file 'deploy/pins.json' must be named models.lock.json: the Model construct reads the models.lock.json next to the app",
    ],
  ];
  for (const [name, flags, given, message] of errors) {
    test(`error: ${name}`, () => assert.throws(() => gitWriteBackFlags(flags, given, {}), { message }));
  }

  test('the CLI prints the error and exits 1 before touching a cluster; --help documents the flags', () => {
    const alone = cli('operator', '--lock-file', 'deploy/models.lock.json');
    assert.equal(alone.status, 1);
    assert.equal(alone.stderr.trim(), 'error: --lock-file needs --git-repo <url> (the repository to write promoted versions back to)');
    const bad = cli('operator', '--git-repo', 'https://git.example/ml.git', '--lock-file', '../models.lock.json');
    assert.equal(bad.status, 1);
    assert.equal(
      bad.stderr.trim(),
      "error: --lock-file '../models.lock.json' must be a path inside the repository, relative to its root, e.g. deploy/models.lock.json",
    );
    const help = cli('operator', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage:/);
    assert.match(help.stdout, /--git-repo <url> +write promoted versions back to this Git\s+repository/);
    assert.match(help.stdout, /--lock-file <path> +the lock file's path inside the repository\s+\(default:\s+"models\.lock\.json"\)/);
    assert.match(help.stdout, /GHOSTEAM_GIT_TOKEN/);
  });
});

describe('ghosteam install --git-repo', () => {
  const deployment = (objs: ReturnType<typeof operatorInstallManifests>) =>
    objs.find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: {
          spec: {
            containers: Array<{ args: string[]; env: Array<{ name: string; value?: string; valueFrom?: unknown }> }>;
            volumes: Array<{ emptyDir: { sizeLimit: string } }>;
          };
        };
      };
    };

  test('args, the token by secretKeyRef, HOME on the writable /tmp; the ClusterRole is unchanged', () => {
    const plain = operatorInstallManifests({ crds: false });
    const objs = operatorInstallManifests({
      crds: false,
      gitWriteBack: { repo: 'https://git.example/acme/ml.git', branch: 'main', lockFile: 'deploy/models.lock.json', secret: { name: 'ml-git' } },
    });
    const c = deployment(objs).spec.template.spec.containers[0];
    assert.deepEqual(c.args.slice(-6), ['--git-repo', 'https://git.example/acme/ml.git', '--git-branch', 'main', '--lock-file', 'deploy/models.lock.json']);
    assert.deepEqual(
      c.env.filter((e) => e.name.startsWith('GHOSTEAM_GIT') || e.name === 'HOME'),
      [
        { name: 'HOME', value: '/tmp' },
        { name: 'GHOSTEAM_GIT_TOKEN', valueFrom: { secretKeyRef: { name: 'ml-git', key: 'token' } } },
        { name: 'GHOSTEAM_GIT_USERNAME', valueFrom: { secretKeyRef: { name: 'ml-git', key: 'username', optional: true } } },
      ],
    );
    assert.ok(c.env.every((e) => e.value === undefined || !/token|secret/i.test(e.value)));
    // The kubelet resolves the Secret: the operator's RBAC neither grows nor mentions secrets.
    for (const kind of ['ClusterRole', 'Role'])
      assert.deepEqual(
        objs.find((o) => o.kind === kind),
        plain.find((o) => o.kind === kind),
      );
    assert.equal((objs.find((o) => o.kind === 'ClusterRole') as unknown as { rules: unknown[] }).rules.length, OPERATOR_RULES.length);
    assert.doesNotMatch(JSON.stringify(objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')), /secrets/);
    assert.equal(deployment(objs).spec.template.spec.volumes[0].emptyDir.sizeLimit, '512Mi');
    assert.equal(deployment(plain).spec.template.spec.containers[0].args.includes('--git-repo'), false);
  });

  const errors: Array<[string, Parameters<typeof installGitWriteBack>[0], string]> = [
    [
      '--git-secret alone',
      { gitBranch: 'main', lockFile: 'models.lock.json', gitSecret: 'ml-git' },
      '--git-secret needs --git-repo <url> (the repository the operator writes promoted versions back to)',
    ],
    [
      'credentials in the URL',
      { gitRepo: 'https://bot:tok@git.example/ml.git', gitBranch: 'main', lockFile: 'models.lock.json' },
      "--git-repo must not carry credentials; put the token in a Secret (key 'token') and name it with --git-secret",
    ],
    [
      'a local path',
      { gitRepo: './ml', gitBranch: 'main', lockFile: 'models.lock.json' },
      "--git-repo './ml' must be a remote URL (https://…, ssh://… or git@host:path): the operator clones it from inside the cluster",
    ],
    [
      'a bad Secret name',
      { gitRepo: 'git@git.example:acme/ml.git', gitBranch: 'main', lockFile: 'models.lock.json', gitSecret: 'ML_Git' },
      "--git-secret 'ML_Git' is not a valid Secret name (lower-case letters, digits, '-' and '.')",
    ],
  ];
  for (const [name, flags, message] of errors) {
    test(`error: ${name}`, () => assert.throws(() => installGitWriteBack(flags, NOT_GIVEN), { message }));
  }

  test('the library names the field', () => {
    assert.throws(() => operatorInstallManifests({ gitWriteBack: { repo: 'https://git.example/ml.git', lockFile: 'pins.json' } }), {
      message: "gitWriteBack.lockFile 'pins.json' must be named models.lock.json: the Model construct reads the models.lock.json next to the app",
    });
  });

  test('install --dry-run with the flags, and an exact error', () => {
    const r = cli('install', '--dry-run', '--no-crds', '--git-repo', 'https://git.example/acme/ml.git', '--git-secret', 'ml-git');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /- --git-repo\n\s+- https:\/\/git\.example\/acme\/ml\.git\n/);
    assert.match(r.stdout, /secretKeyRef:\n\s+name: ml-git\n\s+key: token/);
    const bad = cli('install', '--dry-run', '--git-repo', 'https://bot:tok@git.example/ml.git');
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim(), "error: --git-repo must not carry credentials; put the token in a Secret (key 'token') and name it with --git-secret");
  });
});
