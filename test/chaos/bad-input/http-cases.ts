/** The HTTP requests bad-input.e2e.ts sends, each with the status and message it must get back. */
import { configCases } from './config-cases';
import type { Json } from './patch';

export interface HttpCase {
  name: string;
  method?: 'GET' | 'POST';
  /** Default POST /runs; a function is called when the case runs (ids known by then). */
  path?: string | (() => string);
  /** Sent as JSON, or as-is when a string with `raw`. */
  body?: unknown;
  raw?: boolean;
  contentType?: string;
  status: number;
  /** Must match one of the response's problems (or its message). */
  message: RegExp;
}

export interface HttpCaseContext {
  /** The XOR example config (20 steps) every config case patches. */
  xor: Json;
  /** The directory of the fixture files the test writes, and the path of one of them. */
  files: string;
  file: (name: string) => string;
  /** Id of the run the test trained (known when the cases run). */
  trainedRun: () => string;
}

export function httpCases({ xor, files, file, trainedRun }: HttpCaseContext): HttpCase[] {
  return [
    // --- HTTP bodies
    {
      name: 'malformed JSON',
      body: '{"name": "x",',
      raw: true,
      status: 400,
      message: /^Expected double-quoted property name in JSON at position 13/,
    },
    {
      name: 'a JSON array as body',
      body: [],
      status: 400,
      message: /^\(root\): Invalid input: expected object, received array$/,
    },
    {
      name: 'a JSON string as body',
      body: 'xor',
      status: 400,
      message: /^\(root\): Invalid input: expected object, received string$/,
    },
    {
      name: 'a JSON number as body',
      body: 42,
      status: 400,
      message: /^\(root\): Invalid input: expected object, received number$/,
    },
    {
      name: 'JSON null as body',
      body: null,
      status: 400,
      message: /^\(root\): Invalid input: expected object, received null$/,
    },
    {
      name: 'a text/plain body',
      body: 'name=xor',
      raw: true,
      contentType: 'text/plain',
      status: 415,
      message: /^the request body must be JSON \(content-type: application\/json\), got text\/plain$/,
    },
    {
      name: 'no body at all',
      status: 415,
      message: /^the request body must be JSON \(content-type: application\/json\), got no content-type$/,
    },
    {
      name: 'predict: a text/plain body',
      path: () => `/runs/${trainedRun()}/predict`,
      body: '0,1',
      raw: true,
      contentType: 'text/plain',
      status: 415,
      message: /^the request body must be JSON .*got text\/plain$/,
    },
    {
      name: 'an empty object',
      body: {},
      status: 400,
      message: /^model: Invalid input: expected object, received undefined$/,
    },
    ...configCases({ xor, files, file }),
    // --- predict
    {
      name: 'predict: wrong row width',
      path: () => `/runs/${trainedRun()}/predict`,
      body: { inputs: [[0, 1, 2]] },
      status: 400,
      message: /^inputs\[0\]: has 3 values, the model takes 2$/,
    },
    {
      name: 'predict: non-numbers',
      path: () => `/runs/${trainedRun()}/predict`,
      body: { inputs: [[0, 'one']] },
      status: 400,
      message: /^inputs\.0\.1: Invalid input: expected number, received string$/,
    },
    {
      name: 'predict: too many rows',
      path: () => `/runs/${trainedRun()}/predict`,
      body: { inputs: Array.from({ length: 10_001 }, () => [0, 1]) },
      status: 400,
      message: /^inputs: must hold at most 10000 rows$/,
    },
    {
      name: 'predict: no rows',
      path: () => `/runs/${trainedRun()}/predict`,
      body: { inputs: [] },
      status: 400,
      message: /^inputs: must hold at least one row$/,
    },
    {
      name: 'predict: unknown run',
      path: '/runs/0123456789ab/predict',
      body: { inputs: [[0, 1]] },
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    // --- run ids
    {
      name: 'GET an unknown run id',
      method: 'GET',
      path: '/runs/0123456789ab',
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    {
      name: 'GET history of an unknown run',
      method: 'GET',
      path: '/runs/0123456789ab/history',
      status: 404,
      message: /^no run with id "0123456789ab"$/,
    },
    {
      name: 'GET a run id with a path traversal',
      method: 'GET',
      path: '/runs/..%2F..%2Fetc%2Fpasswd/model',
      status: 404,
      message: /^no run with id "\.\.\/\.\.\/etc\/passwd"$/,
    },
    {
      name: 'GET a run id of 65 characters',
      method: 'GET',
      path: `/runs/${'a'.repeat(65)}`,
      status: 404,
      message: /^no run with id "a{65}"$/,
    },
    {
      name: 'POST cancel to an id with colons',
      method: 'POST',
      path: '/runs/not:an:id/cancel',
      status: 404,
      message: /^no run with id "not:an:id"$/,
    },
    {
      name: 'GET a run id with control characters',
      method: 'GET',
      path: '/runs/%00%1B%5B2J',
      status: 404,
      message: /^no run with id "\\u0000\\u001b\[2J"$/,
    },
  ];
}
