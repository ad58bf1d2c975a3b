import { describe, expect, it } from 'vitest';
import { attachmentProblem, fileSize, handlerProblems, MAX_ATTACHMENT_BYTES, sniff } from './unlock';

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

describe('attachments', () => {
  const pdf = new TextEncoder().encode('%PDF-1.7\n');
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0]);
  const gif = new TextEncoder().encode('GIF89a');

  it('knows a scan by its first bytes, not its name', () => {
    expect([sniff(pdf), sniff(png), sniff(jpeg), sniff(gif), sniff(new Uint8Array())]).toEqual([
      'pdf',
      'png',
      'jpeg',
      null,
      null,
    ]);
  });

  it('refuses what the CA would refuse, before sending', () => {
    expect(attachmentProblem(100, pdf, 0)).toBeNull();
    expect(attachmentProblem(MAX_ATTACHMENT_BYTES, png, 4)).toBeNull();
    expect(attachmentProblem(MAX_ATTACHMENT_BYTES + 1, png, 0)).toBe('app-attach-too-large');
    expect(attachmentProblem(0, pdf, 0)).toBe('app-attach-empty');
    expect(attachmentProblem(100, gif, 0)).toBe('app-attach-type');
    expect(attachmentProblem(100, pdf, 5)).toBe('app-attach-limit');
  });

  it('says sizes as people do', () => {
    expect([fileSize(900), fileSize(2048), fileSize(3 * 1024 * 1024)]).toEqual(['900 B', '2 KB', '3.0 MB']);
  });
});
