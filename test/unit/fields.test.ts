import { describe, expect, it } from 'vitest';
import { commentsField, nameField, sharedGroupName, tagField, userName } from '../../protocol/fields.js';

describe('field rules (seeds: Name 128, Tag 64, Comments 1024)', () => {
  it('holds the limits exactly', () => {
    expect(nameField.safeParse('n'.repeat(128)).success).toBe(true);
    expect(nameField.safeParse('n'.repeat(129)).success).toBe(false);
    expect(nameField.safeParse('').success).toBe(false);
    expect(tagField.safeParse('').success).toBe(true);
    expect(tagField.safeParse('t'.repeat(65)).success).toBe(false);
    expect(commentsField.safeParse('line 1\nline 2').success).toBe(true);
    expect(commentsField.safeParse('c'.repeat(1025)).success).toBe(false);
    expect(nameField.safeParse('bell\u0007').success).toBe(false);
  });

  it('reserves user: for personal groups and checks user names', () => {
    expect(sharedGroupName.safeParse('Linux Admins').success).toBe(true);
    expect(sharedGroupName.safeParse('user:bob').success).toBe(false);
    expect(userName.safeParse('j.smith').success).toBe(true);
    expect(userName.safeParse('-x').success).toBe(false);
  });
});
