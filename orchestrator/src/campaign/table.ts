/**
 * The campaign result table: NATS KV buckets outside the workflow history. One row per run,
 * keyed `<campaignId>.<index>`, so a replayed write replaces the same row and no run is ever
 * counted twice. The campaigns bucket holds each campaign's record.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { campaignRowKey, campaignRowsFilter, campaignTable, type CampaignRecord, type CampaignRow } from '@gramfleet/core';

/** Handles to the two buckets. */
export interface CampaignTable {
  readonly runs: KV;
  readonly campaigns: KV;
  readonly runsBucket: string;
  /** Writes a run's row; `written` is false when an identical row was already there. */
  putRow(row: CampaignRow): Promise<{ written: boolean }>;
  /** Every row of a campaign, by index. */
  rows(campaignId: string): Promise<CampaignRow[]>;
  /** A campaign's record, or null. */
  record(campaignId: string): Promise<CampaignRecord | null>;
  /** Writes a record unless one exists. */
  putRecord(r: CampaignRecord): Promise<void>;
  /** Every campaign record. */
  records(): Promise<CampaignRecord[]>;
}

/**
 * Opens (creating when absent) the result table buckets for a resource prefix; `replicas`
 * (DataPlaneOptions.replicas) is their replica count when this creates them.
 */
export async function openCampaignTable(nc: NatsConnection, prefix: string, replicas = 1): Promise<CampaignTable> {
  const names = campaignTable(prefix);
  const kvm = new Kvm(nc);
  const runs = await kvm.create(names.runsBucket, { history: 1, replicas });
  const campaigns = await kvm.create(names.campaignsBucket, { history: 1, replicas });
  const getJson = async <T>(kv: KV, key: string): Promise<T | null> => {
    const e = await kv.get(key);
    return e === null || e.operation !== 'PUT' ? null : e.json<T>();
  };
  return {
    runs,
    campaigns,
    runsBucket: names.runsBucket,
    async putRow(row) {
      const key = campaignRowKey(row.campaignId, row.index);
      const body = JSON.stringify(row);
      const old = await runs.get(key);
      if (old !== null && old.operation === 'PUT' && old.string() === body) return { written: false };
      await runs.put(key, body);
      return { written: old === null || old.operation !== 'PUT' };
    },
    async rows(campaignId) {
      const keys: string[] = [];
      for await (const k of await runs.keys(campaignRowsFilter(campaignId))) keys.push(k);
      keys.sort();
      const out: CampaignRow[] = [];
      for (let i = 0; i < keys.length; i += 64) {
        const got = await Promise.all(keys.slice(i, i + 64).map((k) => getJson<CampaignRow>(runs, k)));
        for (const r of got) if (r !== null) out.push(r);
      }
      return out.sort((a, b) => a.index - b.index);
    },
    record: (id) => getJson<CampaignRecord>(campaigns, id),
    async putRecord(r) {
      try {
        await campaigns.create(r.campaignId, JSON.stringify(r));
      } catch {
        // Exists already (a retried or continued campaign): keep the first record.
      }
    },
    async records() {
      const out: CampaignRecord[] = [];
      for await (const k of await campaigns.keys()) {
        const r = await getJson<CampaignRecord>(campaigns, k);
        if (r !== null) out.push(r);
      }
      return out.sort((a, b) => a.createdAt - b.createdAt);
    },
  };
}
