/**
 * What `images:build` records about each image, and the cluster suite's check that the cluster
 * runs the image this tree makes (containerd's store outlives `cluster:down`, so an image built
 * from an older tree would otherwise pass for the current one). Pure: no Docker, no cluster.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The stamps live under the peers' cache: give this file a cache of its own before loading the module.
const cache = mkdtempSync(join(tmpdir(), 'ghosteam-images-test-'));
process.env.GHOSTEAM_PEERS_CACHE = cache;
const { imageSourceFiles, imageSourceDigest, imageStampFile, imageRef, staleImage } = await import('./cluster/images.ts');
after(() => rmSync(cache, { recursive: true, force: true }));

test('the sources of an image are the files its Dockerfile copies, .dockerignore applied', () => {
  const operator = imageSourceFiles('operator');
  assert.ok(operator.includes('images/operator/Dockerfile'));
  assert.ok(operator.includes('package-lock.json'), 'COPY package.json package-lock.json .npmrc* ./');
  assert.ok(operator.includes('.npmrc'), 'the .npmrc* glob');
  assert.ok(
    operator.some((f) => f.startsWith('controllers/')),
    'COPY controllers ./controllers, walked',
  );
  for (const f of operator) {
    assert.ok(existsSync(join(root, f)), f);
    assert.ok(!f.split('/').includes('node_modules') && !f.endsWith('.log'), `${f} is ignored by .dockerignore`);
  }
  const components = imageSourceFiles('components');
  assert.ok(components.includes('images/components/package.json'));
  assert.ok(!components.some((f) => f.startsWith('controllers/')), 'the components image copies no controller');
  assert.notEqual(imageSourceDigest('components'), imageSourceDigest('operator'));
});

test('an image is stale without a record, from an older tree, or as another build in the cluster', () => {
  const name = 'model-server' as const;
  const id = `sha256:${'a'.repeat(64)}`;
  assert.match(staleImage(name, id) ?? '', /no record of building .*images:build/);
  mkdirSync(join(cache, 'images'), { recursive: true });
  const stamp = (sourceDigest: string) => writeFileSync(imageStampFile(name), JSON.stringify({ ref: imageRef(name), sourceDigest, imageId: id }));
  stamp(imageSourceDigest(name));
  assert.equal(staleImage(name, id), undefined);
  assert.match(staleImage(name, `sha256:${'b'.repeat(64)}`) ?? '', /holds another build of ghcr\.io\/ghosteam\/model-server/);
  assert.match(staleImage(name, undefined) ?? '', /the cluster lacks/);
  stamp('000000000000');
  assert.match(staleImage(name, id) ?? '', /older tree .*images\/model-server\/Dockerfile/);
});
