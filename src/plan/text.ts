/**
 * Text from a plan or a step that reaches a terminal: control characters written visibly, so that no
 * plan, command output or error message can drive the terminal of the person reading it.
 */

/** C0 and C1 control characters but tab and line breaks: a terminal obeys them (escape sequences). */
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const ALL_CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTERS.source, 'g');

/** Control characters as `\u001b`: readable in text, and still the same character inside a JSON string. */
export function escapeControls(text: string): string {
  return text.replace(ALL_CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
