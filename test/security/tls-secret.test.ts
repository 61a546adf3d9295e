// TLS on a predictor from a Secret, as cert-manager makes it (#23): what the Model construct
// synthesizes (Secret volume, GHOSTEAM_TLS_* env, HTTPS probe, RawDeployment, a cert-manager
// Certificate when asked), checked against KServe's real CRD; and `ghosteam serve` reading its
// certificate from those variables over a volume laid out as the kubelet writes a Secret (files
// behind the `..data` symlink, swapped atomically on renewal), serving the renewed one without a
// restart. The cert-manager CRD is not among ../shared/upstream and no cert-manager runs here, so
// the Certificate is checked field by field against cert-manager's v1 API, not by a server.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { App, Chart } from 'cdk8s';
import { Model, TLS_MOUNT, type ModelProps } from '../../charts/model.ts';
import { PayloadLogging } from '../../charts/rollout.ts';
import { validateObjects } from '../../charts/validate.ts';
import { ValidationError } from '../../api/errors.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { tempDir, writeFraudModel } from '../model-server/fixtures.ts';
import { makeCa, makeLeaf } from './certs.ts';

const root = join(import.meta.dirname, '../..');

function synth(props: Partial<ModelProps>) {
  const app = new App();
  const chart = new Chart(app, 'ml', { namespace: 'ml' });
  new Model(chart, 'fraud', { registry: 'fraud@champion', useLockFile: false, payloadLogging: PayloadLogging.disabled(), ...props });
  return chart.toJson() as Array<Record<string, any>>;
}

function problems(props: Partial<ModelProps>): string[] {
  try {
    synth(props);
    return [];
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return e.issues.map((i) => `${i.field}: ${i.message}`);
  }
}

describe('a Model with tls from a Secret', () => {
  test('mounts the Secret, points --tls-cert/--tls-key at it, probes over HTTPS, runs raw; valid against the KServe CRD', () => {
    const objs = synth({ tls: { secretName: 'fraud-tls' } });
    const isvc = objs.find((o) => o.kind === 'InferenceService')!;
    assert.equal(isvc.metadata.annotations['serving.kserve.io/deploymentMode'], 'RawDeployment');
    const p = isvc.spec.predictor;
    assert.deepEqual(p.volumes, [{ name: 'ghosteam-tls', secret: { secretName: 'fraud-tls' } }]);
    assert.deepEqual(p.model.volumeMounts, [{ name: 'ghosteam-tls', mountPath: TLS_MOUNT, readOnly: true }]);
    const env = Object.fromEntries(p.model.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(env.GHOSTEAM_TLS_CERT, `${TLS_MOUNT}/tls.crt`);
    assert.equal(env.GHOSTEAM_TLS_KEY, `${TLS_MOUNT}/tls.key`);
    assert.equal(p.model.readinessProbe.httpGet.scheme, 'HTTPS');
    assert.deepEqual(upstreamErrors(isvc as never), []);
    assert.equal(objs.filter((o) => o.kind === 'Certificate').length, 0);
    assert.deepEqual(validateObjects(objs.map((object) => ({ object, source: 'app.ts' }))), []);
    // Without tls: none of it.
    const plain = synth({}).find((o) => o.kind === 'InferenceService')!;
    assert.equal(plain.spec.predictor.volumes, undefined);
    assert.equal(plain.metadata.annotations['serving.kserve.io/deploymentMode'], undefined);
  });

  test('certManager: a cert-manager.io/v1 Certificate issuing into the Secret, for the predictor Service names', () => {
    const objs = synth({ tls: { secretName: 'fraud-tls', certManager: { issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer' }, renewBefore: '360h' } } });
    const cert = objs.find((o) => o.kind === 'Certificate')!;
    assert.equal(cert.apiVersion, 'cert-manager.io/v1');
    assert.equal(cert.metadata.name, 'fraud-predictor');
    assert.equal(cert.metadata.namespace, 'ml');
    assert.deepEqual(cert.spec, {
      secretName: 'fraud-tls',
      issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      dnsNames: ['fraud-predictor', 'fraud-predictor.ml', 'fraud-predictor.ml.svc', 'fraud-predictor.ml.svc.cluster.local'],
      renewBefore: '360h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature'],
    });
    // The inline-credentials lint and the object checks accept it.
    assert.deepEqual(validateObjects(objs.map((object) => ({ object, source: 'app.ts' }))), []);
  });

  test('bad TLS settings name the field and the fix', () => {
    assert.deepEqual(problems({ tls: { secretName: 'Fraud_TLS' } }), [
      `tls.secretName: 'Fraud_TLS' is not a Secret name (lower-case letters, digits, '-' and '.')`,
    ]);
    const withLogger = problems({ tls: { secretName: 'fraud-tls' }, payloadLogging: PayloadLogging.enabled() });
    assert.equal(withLogger.length, 1);
    assert.match(withLogger[0], /^tls: KServe's payload logger .* PayloadLogging\.disabled\(\)/);
    assert.deepEqual(problems({ tls: { secretName: 'fraud-tls', certManager: { issuerRef: { name: '' }, duration: '90d', dnsNames: ['Bad Name'] } } }), [
      'tls.certManager.issuerRef.name: is required; name the Issuer or ClusterIssuer that signs',
      "tls.certManager.dnsNames[0]: 'Bad Name' is not a DNS name",
      "tls.certManager.duration: '90d' is not a duration; write e.g. 2160h (hours, minutes, seconds)",
    ]);
  });
});

/** The serial of the certificate a fresh TLS connection is shown. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(ca), servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

/**
 * Writes `files` as the kubelet's atomic writer does for a Secret volume: a timestamped directory,
 * `..data` pointing at it, and each key a symlink through `..data`. A later call swaps `..data`.
 */
function writeSecretVolume(dir: string, files: Record<string, string>, generation: number): void {
  const ts = join(dir, `..2026_12_02_00_00_0${generation}`);
  mkdirSync(ts);
  for (const [k, from] of Object.entries(files)) copyFileSync(from, join(ts, k));
  const tmp = join(dir, '..data_tmp');
  symlinkSync(ts.slice(dir.length + 1), tmp);
  renameSync(tmp, join(dir, '..data'));
  if (generation === 1) for (const k of Object.keys(files)) symlinkSync(join('..data', k), join(dir, k));
}

test('ghosteam serve takes its certificate from GHOSTEAM_TLS_CERT/KEY (as the Model sets them) and serves a renewed Secret without a restart', async () => {
  const dir = tempDir('ghosteam-tls-secret-');
  const ca = makeCa(dir);
  const first = makeLeaf(dir, ca, 'first');
  const renewed = makeLeaf(dir, ca, 'renewed');
  const vol = join(dir, 'secret');
  mkdirSync(vol);
  writeSecretVolume(vol, { 'tls.crt': first.cert, 'tls.key': first.key }, 1);
  // The variables exactly as the synthesized predictor carries them, with the mount moved here.
  const isvc = synth({ tls: { secretName: 'fraud-tls' } }).find((o) => o.kind === 'InferenceService')!;
  const env: Record<string, string> = {};
  for (const e of isvc.spec.predictor.model.env as Array<{ name: string; value: string }>)
    if (e.name.startsWith('GHOSTEAM_TLS_')) env[e.name] = e.value.replace(TLS_MOUNT, vol);
  assert.deepEqual(Object.keys(env).sort(), ['GHOSTEAM_TLS_CERT', 'GHOSTEAM_TLS_KEY']);
  const model = writeFraudModel(dir, 1);
  const child = spawn(process.execPath, [join(root, 'bin/ghosteam.mjs'), 'serve', '--model', `fraud:1=${model.path}`, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
      child.stdout.on('data', () => {
        const m = /listening on https:\/\/[^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', () => reject(new Error(`serve exited:\n${out}`)));
    });
    const serial = (f: string) => new X509Certificate(readFileSync(f)).serialNumber;
    assert.equal(await servedSerial(port, ca.cert), serial(first.cert));
    writeSecretVolume(vol, { 'tls.crt': renewed.cert, 'tls.key': renewed.key }, 2);
    const deadline = Date.now() + 15_000;
    while ((await servedSerial(port, ca.cert)) !== serial(renewed.cert)) {
      assert.ok(Date.now() < deadline, `the renewed certificate was not served within 15 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(out, /TLS certificate reloaded/);
    assert.equal(child.exitCode, null);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});
