import { NotFoundException } from '@nestjs/common';
import { ID_PATTERN } from '@nnq/protocol';

/** An id from the path, or 404 when it cannot name a `kind` (the id is echoed, shortened). */
export function pathId(kind: 'run' | 'sweep', id: string): string {
  if (!ID_PATTERN.test(id)) throw new NotFoundException(`no ${kind} with id ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}
