// Its own module so that `drctl --help` can show the default without loading the server.
export const DEFAULT_LISTEN = '127.0.0.1:7070';
