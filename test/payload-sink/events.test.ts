// The sink's pure half: CloudEvents (KServe logger's binary mode, ghosteam's structured batches) →
// payload-log records, and the request/response pairing with its TTL and bound.
// Header and body shapes follow kserve pkg/logger/worker.go (cloudevents sdk-go, binary encoding):
// ce-specversion, ce-id, ce-source, ce-type, ce-time plus the extensions inferenceservicename,
// namespace, component, endpoint (and metadata, which the sink ignores).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCloudEvents,
  Pairer,
  EventError,
  requestTensors,
  responseTensors,
  KSERVE_REQUEST,
  KSERVE_RESPONSE,
  type SinkEvent,
} from '../../components/payload-sink/events.ts';

type Half = SinkEvent & { kind: 'request' | 'response' };

function kserveHeaders(type: string, id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': 'http://localhost:9081/',
    'ce-type': type,
    'ce-time': '2026-11-23T07:00:00.123456789Z',
    'ce-inferenceservicename': 'fraud',
    'ce-namespace': 'ml',
    'ce-component': 'predictor',
    'ce-endpoint': 'fraud-predictor-default',
    'ce-metadata': '{}',
    ...extra,
  };
}

const half = (type: string, id: string, body: unknown, extra: Record<string, string> = {}) =>
  parseCloudEvents(kserveHeaders(type, id, extra), JSON.stringify(body))[0] as Half;

describe('KServe logger pairs → records', () => {
  const cases: Array<{ name: string; req: unknown; res: unknown; want: { inputs: unknown; outputs: unknown; version: string } }> = [
    {
      name: 'V1 instances / predictions (sklearn-iris)',
      req: {
        instances: [
          [6.8, 2.8, 4.8, 1.4],
          [6.0, 3.4, 4.5, 1.6],
        ],
      },
      res: { predictions: [1, 1] },
      want: {
        inputs: { instances: { shape: [2, 4], datatype: 'FP64', data: [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6] } },
        outputs: { predictions: { shape: [2], datatype: 'FP64', data: [1, 1] } },
        version: '',
      },
    },
    {
      name: 'V2 inputs with nested data / outputs with model_version',
      req: {
        id: 'r1',
        inputs: [
          {
            name: 'input',
            shape: [2, 2],
            datatype: 'FP32',
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
      },
      res: { model_name: 'fraud-model', model_version: '3', id: 'r1', outputs: [{ name: 'probability', shape: [2, 1], datatype: 'FP32', data: [0.25, 0.75] }] },
      want: {
        inputs: { input: { shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] } },
        outputs: { probability: { shape: [2, 1], datatype: 'FP32', data: [0.25, 0.75] } },
        version: '3',
      },
    },
    {
      name: 'V1 rows keyed by input name, string predictions',
      req: {
        instances: [
          { a: [1, 2], b: 'x' },
          { a: [3, 4], b: 'y' },
        ],
      },
      res: { predictions: ['cat', 'dog'] },
      want: {
        inputs: { a: { shape: [2, 2], datatype: 'FP64', data: [1, 2, 3, 4] }, b: { shape: [2], datatype: 'BYTES', data: ['x', 'y'] } },
        outputs: { predictions: { shape: [2], datatype: 'BYTES', data: ['cat', 'dog'] } },
        version: '',
      },
    },
    {
      name: 'V1 columnar inputs',
      req: { inputs: { a: [[1], [2], [3]] } },
      res: {
        predictions: [
          [0.1, 0.9],
          [0.2, 0.8],
          [0.3, 0.7],
        ],
      },
      want: {
        inputs: { a: { shape: [3, 1], datatype: 'FP64', data: [1, 2, 3] } },
        outputs: { predictions: { shape: [3, 2], datatype: 'FP64', data: [0.1, 0.9, 0.2, 0.8, 0.3, 0.7] } },
        version: '',
      },
    },
  ];
  for (const c of cases) {
    for (const order of ['request first', 'response first'] as const) {
      test(`${c.name}, ${order}`, () => {
        const p = new Pairer({ now: () => 0 });
        const req = half(KSERVE_REQUEST, 'abc', c.req);
        const res = half(KSERVE_RESPONSE, 'abc', c.res);
        const [first, second] = order === 'request first' ? [req, res] : [res, req];
        assert.deepEqual(p.add(first), []);
        assert.equal(p.size, 1);
        const out = p.add(second);
        assert.equal(p.size, 0);
        assert.deepEqual(out, [{ ts: '2026-11-23T07:00:00.123Z', model: 'fraud', id: 'abc', namespace: 'ml', ...c.want }]);
      });
    }
  }

  test('pairs are joined by namespace, InferenceService and ce-id, not by ce-id alone', () => {
    const p = new Pairer({ now: () => 0 });
    p.add(half(KSERVE_REQUEST, 'same', { instances: [[1]] }));
    assert.deepEqual(p.add(half(KSERVE_RESPONSE, 'same', { predictions: [9] }, { 'ce-namespace': 'other' })), []);
    assert.equal(p.size, 2);
    const [r] = p.add(half(KSERVE_RESPONSE, 'same', { predictions: [7] }));
    assert.deepEqual(r.outputs, { predictions: { shape: [1], datatype: 'FP64', data: [7] } });
  });

  test('the model is the InferenceService, else the response model_name; the time is ce-time, else now', () => {
    const p = new Pairer({ now: () => Date.parse('2026-01-02T03:04:05Z') });
    const h = { 'ce-inferenceservicename': '', 'ce-time': '' };
    p.add(half(KSERVE_REQUEST, 'x', { instances: [[1]] }, h));
    const [r] = p.add(half(KSERVE_RESPONSE, 'x', { model_name: 'm', outputs: [{ name: 'y', shape: [1], datatype: 'INT64', data: [1] }] }, h));
    assert.equal(r.model, 'm');
    assert.equal(r.ts, '2026-01-02T03:04:05.000Z');
  });
});

describe('unpaired halves: TTL and bound', () => {
  test('after the TTL a lone request is written without outputs, a lone response dropped; both counted', () => {
    let now = 1000;
    const p = new Pairer({ ttlMs: 100, now: () => now });
    p.add(half(KSERVE_REQUEST, 'q', { instances: [[1, 2]] }));
    p.add(half(KSERVE_RESPONSE, 'r', { predictions: [1] }));
    now = 1099;
    assert.deepEqual(p.expire(), []);
    now = 1100;
    const out = p.expire();
    assert.deepEqual(out, [
      {
        ts: '2026-11-23T07:00:00.123Z',
        model: 'fraud',
        version: '',
        id: 'q',
        namespace: 'ml',
        inputs: { instances: { shape: [1, 2], datatype: 'FP64', data: [1, 2] } },
        outputs: {},
      },
    ]);
    assert.deepEqual(p.counts, { requestsAlone: 1, responsesDropped: 1, requestsDropped: 0 });
    assert.equal(p.size, 0);
    // The late response finds nothing and waits (then is dropped) rather than pairing with a written request.
    p.add(half(KSERVE_RESPONSE, 'q', { predictions: [1] }));
    now = 1300;
    assert.deepEqual(p.expire(), []);
    assert.equal(p.counts.responsesDropped, 2);
  });

  test('at maxPending the oldest half goes first', () => {
    const p = new Pairer({ maxPending: 2, now: () => 0 });
    assert.deepEqual(p.add(half(KSERVE_REQUEST, '1', { instances: [[1]] })), []);
    assert.deepEqual(p.add(half(KSERVE_RESPONSE, '2', { predictions: [2] })), []);
    const out = p.add(half(KSERVE_REQUEST, '3', { instances: [[3]] }));
    assert.deepEqual(
      out.map((r) => r.id),
      ['1'],
    );
    assert.equal(p.size, 2);
    assert.deepEqual(p.add(half(KSERVE_REQUEST, '4', { instances: [[4]] })), []);
    assert.deepEqual(p.counts, { requestsAlone: 1, responsesDropped: 1, requestsDropped: 0 });
    assert.deepEqual(
      p.drain().map((r) => r.id),
      ['3', '4'],
    );
  });

  test('a lone request with no model name is dropped and counted', () => {
    let now = 0;
    const p = new Pairer({ ttlMs: 10, now: () => now });
    p.add(half(KSERVE_REQUEST, 'n', { instances: [[1]] }, { 'ce-inferenceservicename': '' }));
    now = 10;
    assert.deepEqual(p.expire(), []);
    assert.deepEqual(p.counts, { requestsAlone: 0, responsesDropped: 0, requestsDropped: 1 });
  });

  test('options are checked', () => {
    assert.throws(() => new Pairer({ ttlMs: 0 }), { message: 'ttlMs must be positive; got 0' });
    assert.throws(() => new Pairer({ maxPending: 1.5 }), { message: 'maxPending must be a positive integer; got 1.5' });
  });
});

describe('ghosteam model server batches', () => {
  const rec = {
    ts: '2026-11-23T07:00:00.000Z',
    model: 'fraud',
    version: '2',
    id: 'r1',
    inputs: { input: { shape: [1, 2], datatype: 'FP32', data: [1, 2] } },
    outputs: { p: { shape: [1, 1], datatype: 'FP32', data: [0.5] } },
  };
  const ev = (data: unknown, id = 'r1:u') => ({
    specversion: '1.0',
    id,
    source: 'ghosteam/model-server',
    type: 'io.ghosteam.inference.payload',
    time: '2026-11-23T07:00:00.000Z',
    subject: 'fraud/2',
    datacontenttype: 'application/json',
    data,
  });

  test('a batch yields its records unchanged', () => {
    const evs = parseCloudEvents({ 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([ev(rec), ev({ ...rec, id: 'r2' }, 'r2:u')]));
    assert.deepEqual(evs, [
      { kind: 'record', record: rec },
      { kind: 'record', record: { ...rec, id: 'r2' } },
    ]);
  });

  test('a single structured event, data_base64, and binary mode all work', () => {
    assert.deepEqual(parseCloudEvents({ 'content-type': 'application/cloudevents+json; charset=utf-8' }, JSON.stringify(ev(rec))), [
      { kind: 'record', record: rec },
    ]);
    const b64 = { ...ev(undefined), data_base64: Buffer.from(JSON.stringify(rec)).toString('base64') };
    assert.deepEqual(parseCloudEvents({ 'content-type': 'application/cloudevents+json' }, JSON.stringify(b64)), [{ kind: 'record', record: rec }]);
    const bin = parseCloudEvents(
      { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': 's', 'ce-type': 'io.ghosteam.inference.payload' },
      JSON.stringify(rec),
    );
    assert.deepEqual(bin, [{ kind: 'record', record: rec }]);
  });
});

describe('bad events: exact messages', () => {
  const batch = { 'content-type': 'application/cloudevents-batch+json' };
  const cases: Array<[string, Record<string, string>, string, string]> = [
    [
      'no ce headers',
      { 'content-type': 'application/json' },
      '{}',
      'missing header ce-specversion: send a CloudEvent (binary mode with ce-* headers, or content-type application/cloudevents+json)',
    ],
    [
      'no ce-id',
      { ...kserveHeaders(KSERVE_REQUEST, 'x'), 'ce-id': '' },
      '{}',
      'missing header ce-id: send a CloudEvent (binary mode with ce-* headers, or content-type application/cloudevents+json)',
    ],
    [
      'old specversion',
      { ...kserveHeaders(KSERVE_REQUEST, 'x'), 'ce-specversion': '0.3' },
      '{}',
      "ce-specversion '0.3' is not supported; send CloudEvents 1.0",
    ],
    [
      'unknown type',
      kserveHeaders('com.example.other', 'x'),
      '{}',
      "event x: type 'com.example.other' is not supported; expected org.kubeflow.serving.inference.request, org.kubeflow.serving.inference.response or io.ghosteam.inference.payload",
    ],
    [
      'body not JSON',
      kserveHeaders(KSERVE_REQUEST, 'x'),
      'not json',
      'event x: the body is not valid JSON: Unexpected token \'o\', "not json" is not valid JSON',
    ],
    ['body an array', kserveHeaders(KSERVE_REQUEST, 'x'), '[1]', 'event x: the request body must be a JSON object'],
    ['batch not an array', batch, '{}', 'the CloudEvents batch must be a JSON array of events'],
    ['batch event without id', batch, '[{"specversion":"1.0","source":"s","type":"t"}]', "event 0: attribute 'id' must be a non-empty string"],
    [
      'record without model',
      batch,
      JSON.stringify([
        { specversion: '1.0', id: 'i', source: 's', type: 'io.ghosteam.inference.payload', data: { ts: '2026-01-01T00:00:00Z', version: '1', inputs: {} } },
      ]),
      'event 0 (i): data.model must be a non-empty string',
    ],
    [
      'record with a bad tensor',
      batch,
      JSON.stringify([
        {
          specversion: '1.0',
          id: 'i',
          source: 's',
          type: 'io.ghosteam.inference.payload',
          data: { ts: '2026-01-01T00:00:00Z', model: 'm', version: '1', inputs: { x: { shape: [1], datatype: 'FLOAT', data: [1] } } },
        },
      ]),
      'event 0 (i): data.inputs.x.datatype "FLOAT" is not an Open Inference Protocol datatype',
    ],
    [
      'structured event without data',
      { 'content-type': 'application/cloudevents+json' },
      '{"specversion":"1.0","id":"i","source":"s","type":"io.ghosteam.inference.payload"}',
      'the CloudEvent (i): the event has no data',
    ],
  ];
  for (const [name, headers, body, message] of cases) {
    test(name, () =>
      assert.throws(
        () => parseCloudEvents(headers, body),
        (e: Error) => (e instanceof EventError && e.message === message) || assert.fail(e.message),
      ),
    );
  }

  const bodies: Array<[string, () => unknown, string]> = [
    [
      'request with neither inputs nor instances',
      () => requestTensors({ data: [] }, 'event x'),
      "event x: the request body has neither 'inputs' (V2) nor 'instances' (V1)",
    ],
    ['empty instances', () => requestTensors({ instances: [] }, 'event x'), "event x: 'instances' must be a non-empty array of rows"],
    ['ragged instances', () => requestTensors({ instances: [[1, 2], [3]] }, 'event x'), 'event x: instances is ragged: rows must all have 2 values'],
    ['mixed values', () => requestTensors({ instances: [[1, 'a']] }, 'event x'), 'event x: instances must hold only numbers, only strings or only booleans'],
    [
      'rows with different keys',
      () => requestTensors({ instances: [{ a: 1 }, { b: 2 }] }, 'event x'),
      "event x: instances[1] has no 'a' (rows keyed by input name must all have the same keys)",
    ],
    [
      'V2 binary tensor data',
      () => requestTensors({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 4 } }] }, 'event x'),
      'event x: inputs[0] (x).data must be an array (binary tensor data is not supported; log JSON requests)',
    ],
    [
      'response with neither outputs nor predictions',
      () => responseTensors({ error: 'boom' }, 'event x'),
      "event x: the response body has neither 'outputs' (V2) nor 'predictions' (V1)",
    ],
    [
      'pair with no model name',
      () => {
        const p = new Pairer();
        p.add(half(KSERVE_REQUEST, 'x', { instances: [[1]] }, { 'ce-inferenceservicename': '' }));
        return p.add(half(KSERVE_RESPONSE, 'x', { predictions: [1] }, { 'ce-inferenceservicename': '' }));
      },
      'event x: no model name: send ce-inferenceservicename or a response with model_name',
    ],
  ];
  for (const [name, fn, message] of bodies) {
    test(name, () => assert.throws(fn, (e: Error) => (e instanceof EventError && e.message === message) || assert.fail(e.message)));
  }

  test('a bad half is rejected when it arrives, not dropped later', () => {
    const p = new Pairer();
    assert.throws(() => p.add(half(KSERVE_REQUEST, 'x', { nothing: 1 })), EventError);
    assert.equal(p.size, 0);
  });
});
