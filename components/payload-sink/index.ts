/**
 * The payload sink: receives inference CloudEvents (KServe's logger, ghosteam's model server) and
 * appends them to the payload log that DriftMonitors read. See ./server.ts and ./events.ts.
 */
export { startPayloadSink, type PayloadSink, type PayloadSinkOptions } from './server.ts';
export {
  parseCloudEvents,
  requestTensors,
  responseTensors,
  kserveRecord,
  Pairer,
  EventError,
  KSERVE_REQUEST,
  KSERVE_RESPONSE,
  GHOSTEAM_PAYLOAD,
  type SinkEvent,
  type PairerOptions,
} from './events.ts';
