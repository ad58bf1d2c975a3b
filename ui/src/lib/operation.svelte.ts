// One operation run from the window: its steps, the question it waits on, the last
// refusal (shown inside the next question), and how it ended.

import type { Answer } from '../bindings/Answer';
import type { Error as CoreError } from '../bindings/Error';
import type { Notice } from '../bindings/Notice';
import type { OperationEvent } from '../bindings/OperationEvent';
import type { OperationRequest } from '../bindings/OperationRequest';
import type { Outcome } from '../bindings/Outcome';
import type { Question } from '../bindings/Question';
import type { Step } from '../bindings/Step';
import { api } from './api';

export type Phase = 'running' | 'question' | 'finished' | 'failed';

export class Operation {
  readonly request: OperationRequest;
  id = $state<number | null>(null);
  phase = $state<Phase>('running');
  steps = $state<Step[]>([]);
  current = $state<{ index: number; total: number } | null>(null);
  question = $state<{ id: number; question: Question } | null>(null);
  rejected = $state<CoreError | null>(null);
  notices = $state<Notice[]>([]);
  outcome = $state<Outcome | null>(null);
  error = $state<unknown>(null);

  // Settles once the operation has its id: events (a question) can come first.
  private started: Promise<void> = Promise.resolve();

  constructor(request: OperationRequest) {
    this.request = request;
  }

  start(): Promise<void> {
    this.started = api
      .startOperation(this.request, (e) => this.handle(e))
      .then((id) => {
        this.id = id;
      })
      .catch((e: unknown) => this.fail(e));
    return this.started;
  }

  handle(e: OperationEvent): void {
    switch (e.event) {
      case 'step':
        if (!this.steps.includes(e.step)) this.steps.push(e.step);
        this.current = { index: e.index, total: e.total };
        this.phase = 'running';
        break;
      case 'question':
        this.question = { id: e.id, question: e.question };
        this.phase = 'question';
        break;
      case 'notice':
        if (e.notice.kind === 'rejected') this.rejected = e.notice.error;
        else this.notices.push(e.notice);
        break;
      case 'finished':
        this.question = null;
        this.outcome = e.outcome;
        this.phase = 'finished';
        break;
      case 'failed':
        this.fail(e.error);
        break;
    }
  }

  /** Answers the question on screen; the answer is not kept. */
  async reply(answer: Answer): Promise<void> {
    await this.started;
    const q = this.question;
    if (this.id === null || !q) return;
    this.question = null;
    this.rejected = null;
    this.phase = 'running';
    try {
      await api.answer(this.id, q.id, answer);
    } catch (e) {
      this.fail(e);
    }
  }

  async cancel(): Promise<void> {
    await this.started;
    if (this.id === null || this.phase === 'finished' || this.phase === 'failed') return;
    try {
      await api.cancelOperation(this.id);
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(error: unknown): void {
    this.question = null;
    this.error = error;
    this.phase = 'failed';
  }
}

// CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, and CKR_SESSION_HANDLE_INVALID (what
// many modules answer on a session whose key was pulled out).
const REMOVED_CKR = new Set([0x32, 0xe0, 0xb3]);

/** Whether an operation stopped because its key was pulled out. */
export function keyRemoved(error: unknown): boolean {
  if (!error || typeof error !== 'object' || !('code' in error)) return false;
  const e = error as { code: string; ckr?: number };
  if (e.code === 'token_not_found') return true;
  return e.code === 'pkcs11' && typeof e.ckr === 'number' && REMOVED_CKR.has(e.ckr);
}

/** Whether an operation ended because the user stopped it. */
export function cancelled(error: unknown): boolean {
  return !!error && typeof error === 'object' && 'code' in error && error.code === 'cancelled';
}
