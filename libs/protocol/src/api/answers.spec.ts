import { describe, expect, it } from 'vitest';
import { answerJsonSchema, AnswerMismatchError, parseAnswer } from './answers';
import { HistorySchema, RunRecordSchema } from './runs';
import { WorkerListSchema } from './workers';

const run = {
  id: 'abc',
  name: 'xor',
  state: 'running',
  createdAt: '2026-01-01T00:00:00.000Z',
  step: 3,
  totalSteps: 10,
  epoch: 0,
  epochs: 1,
  batchSize: 4,
  shards: 1,
  datasetId: 'd',
  paramCount: 9,
  skippedSteps: 0,
};

describe('parseAnswer', () => {
  it('returns a well-formed answer, keeping fields the schema does not know', () => {
    expect(parseAnswer(RunRecordSchema, { ...run, future: 1 }, 'GET /runs/abc')).toEqual({ ...run, future: 1 });
  });

  it('names the field of a malformed answer and the request', () => {
    const bad = () => parseAnswer(RunRecordSchema, { ...run, state: 'lost' }, 'GET /runs/abc');
    expect(bad).toThrow(AnswerMismatchError);
    expect(bad).toThrow(/^coordinator answered GET \/runs\/abc with an unexpected body: state: .*expected one of/);
  });

  it('names a field inside a list by its index', () => {
    const history = [{ type: 'step', step: 1, epoch: 0, loss: 1, accuracy: 0, lr: 0.1, gradNorm: 'x', seconds: 0 }];
    expect(() => parseAnswer(HistorySchema, history, 'GET /runs/abc/history')).toThrow(
      /GET \/runs\/abc\/history with an unexpected body: 0\.gradNorm: .*expected number/,
    );
    expect(() => parseAnswer(WorkerListSchema, {}, 'GET /workers')).toThrow(/\(root\): .*expected array/);
  });
});

describe('answerJsonSchema', () => {
  it('describes a run with its required fields and its states', () => {
    const schema = answerJsonSchema(RunRecordSchema) as {
      required: string[];
      properties: { state: { enum: string[] } };
    };
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'state', 'step', 'totalSteps']));
    expect(schema.properties.state.enum).toEqual(['queued', 'running', 'completed', 'failed', 'cancelled']);
    expect(schema).not.toHaveProperty('additionalProperties');
  });
});
