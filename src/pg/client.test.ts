import { describe, expect, it } from 'vitest';
import { toolConnection } from './client.ts';

describe('how PostgreSQL tools connect', () => {
  it('keeps the password out of the command line and hands it over in the environment', () => {
    const { conninfo, env } = toolConnection('postgres://postgres:s3cr%27t@127.0.0.1:5433/shop', {
      application_name: 'west',
    });
    expect(conninfo).toBe(
      "host='127.0.0.1' port='5433' user='postgres' dbname='shop' application_name='west'",
    );
    expect(env).toEqual({ PGPASSWORD: "s3cr't" });
  });

  it('sets no password when the URL has none', () => {
    expect(toolConnection('postgres://127.0.0.1/shop').env).toEqual({});
  });
});
