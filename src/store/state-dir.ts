/** The state directory when `--state` is not given (its own module so the CLI can name it without opening a store). */
export const DEFAULT_STATE_DIR = '.drctl';
