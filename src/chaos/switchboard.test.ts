import { afterEach, describe, expect, it } from 'vitest';
import { DrctlError } from '../errors.ts';
import { request } from '../router/test-support.ts';
import { Switchboard, readFlag } from './index.ts';

const boards: Switchboard[] = [];
afterEach(async () => {
  for (const board of boards.splice(0)) await board.close();
});

async function switchboard(options: Parameters<typeof Switchboard.create>[0] = {}): Promise<Switchboard> {
  const board = await Switchboard.create(options);
  boards.push(board);
  return board;
}

describe('switchboard', () => {
  it('serves flags set in code to an application reading them over HTTP', async () => {
    const board = await switchboard({ flags: { 'catalog.slow': 250 } });
    expect(await readFlag(board.url, 'orders.fail')).toBeNull();
    expect(await readFlag(board.url, 'orders.fail', { fallback: false })).toBe(false);

    const change = board.set('orders.fail', 'database unavailable');
    expect(change).toMatchObject({ name: 'orders.fail', set: true });
    expect(await readFlag(board.url, 'orders.fail')).toBe('database unavailable');
    expect(JSON.parse((await request(`${board.url}/flags`)).body)).toEqual({
      flags: { 'catalog.slow': 250, 'orders.fail': 'database unavailable' },
    });

    board.unset('orders.fail');
    expect(await readFlag(board.url, 'orders.fail', { fallback: false })).toBe(false);
    expect(board.history().map((entry) => [entry.name, entry.set])).toEqual([
      ['catalog.slow', true],
      ['orders.fail', true],
      ['orders.fail', false],
    ]);
  });

  it('sets and clears flags over HTTP, with the bearer token when one is configured', async () => {
    const board = await switchboard({ token: 'flag-token' });
    const refused = await request(`${board.url}/flags/orders.fail`, {
      method: 'PUT',
      body: '{"value":true}',
    });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'DRCTL_CHAOS_UNAUTHORIZED' } });

    const auth = { authorization: 'Bearer flag-token', 'content-type': 'application/json' };
    const set = await request(`${board.url}/flags/orders.fail`, {
      method: 'PUT',
      body: '{"value":true}',
      headers: auth,
    });
    expect(JSON.parse(set.body)).toMatchObject({ name: 'orders.fail', value: true, set: true });
    expect(board.get('orders.fail')).toMatchObject({ value: true, set: true });

    const noValue = await request(`${board.url}/flags/orders.fail`, {
      method: 'PUT',
      body: '{}',
      headers: auth,
    });
    expect(JSON.parse(noValue.body)).toMatchObject({ error: { code: 'DRCTL_CHAOS_REQUEST_INVALID' } });

    await request(`${board.url}/flags`, { method: 'DELETE', headers: auth });
    expect(board.flags()).toEqual({});
  });

  it('rejects a flag name that is not one', async () => {
    const board = await switchboard();
    let error: unknown;
    try {
      board.set('orders fail!', true);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DrctlError);
    expect(error).toMatchObject({ code: 'DRCTL_CHAOS_FLAG_INVALID' });
  });

  it('gives the application its fallback when the switchboard is gone', async () => {
    const board = await switchboard();
    const url = board.url;
    await board.close();
    expect(await readFlag(url, 'orders.fail', { fallback: false })).toBe(false);
  });
});
