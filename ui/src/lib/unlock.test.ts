import { describe, expect, it } from 'vitest';
import { handlerProblems } from './unlock';

describe('handlerProblems', () => {
  it('accepts a complete form', () => {
    expect(handlerProblems({ name: '张三', id_number: '110101199001011234', phone: '13800000000' })).toEqual([]);
    expect(handlerProblems({ name: ' 李四 ', id_number: 'A1', phone: '+86 138-0000-0000' })).toEqual([]);
  });
  it('names every missing field', () => {
    expect(handlerProblems({ name: ' ', id_number: '', phone: '' })).toEqual([
      'app-handler-name-needed',
      'app-handler-id-needed',
      'app-handler-phone-needed',
    ]);
  });
  it('refuses a phone that is not a number, overlong fields and control characters', () => {
    expect(handlerProblems({ name: 'a', id_number: 'b', phone: 'call me' })).toEqual(['app-handler-phone-invalid']);
    expect(handlerProblems({ name: 'x'.repeat(65), id_number: 'b\u0007', phone: '12345' })).toEqual([
      'app-handler-name-needed',
      'app-handler-id-needed',
    ]);
  });
});
