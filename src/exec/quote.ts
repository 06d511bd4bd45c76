/** POSIX shell quoting: the one way drctl builds command lines for `/bin/sh`, here or on a host. */

/** One word for `/bin/sh`, whatever it holds. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words, each quoted. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
