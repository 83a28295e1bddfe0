// Notification channels and their delivery log (SPEC §15, docs/checks.md).
// Channel secrets (webhook secret, SMTP password, Slack URL) go in on
// create and never come back: the API shows only *_set flags.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { allPages } from '../api'
import { client } from '../client'
import type { NotificationChannel, NotificationChannelInput, NotificationDelivery, NotificationQuery } from '../types'
import type { QueryOpts } from './options'
import { usePagedList, type PagedOpts } from './paged'

export const notificationKeys = {
  channels: () => ['notification-channels'],
  log: (qs: string) => ['notifications', qs],
  all: () => ['notifications'],
  delivery: (channel: string, id: string) => ['notifications', 'delivery', channel, id],
}

// ---- fetchers ----

export const listChannels = (signal?: AbortSignal) => allPages<NotificationChannel>((p) => client.listNotificationChannels(p, { signal }))
export const createChannel = (body: NotificationChannelInput) => client.createNotificationChannel(body)
export const deleteChannel = (id: string) => client.deleteNotificationChannel(id)
export const testChannel = (id: string) => client.testNotificationChannel(id)

/** The attempts of one delivery (newest first), from the channel's recent log. */
export async function deliveryAttempts(channel: string, deliveryID: string, signal?: AbortSignal): Promise<NotificationDelivery[]> {
  const l = await client.listNotifications({ channel, limit: 100 }, { signal })
  return (l.items ?? []).filter((d) => d.delivery_id === deliveryID)
}

// ---- hooks ----

export function useChannels(opts?: QueryOpts<NotificationChannel[]>) {
  return useQuery({ queryKey: notificationKeys.channels(), queryFn: ({ signal }) => listChannels(signal), ...opts })
}

export function useDeliveries(q: NotificationQuery & { limit: number }, opts?: PagedOpts) {
  return usePagedList<NotificationDelivery>(notificationKeys.log(JSON.stringify(q)), (cursor, signal) => client.listNotifications({ ...q, cursor }, { signal }), opts)
}

/** One test delivery's attempts, polled until its first attempt is recorded. */
export function useDelivery(channel: string, deliveryID: string, opts?: QueryOpts<NotificationDelivery[]>) {
  return useQuery({
    queryKey: notificationKeys.delivery(channel, deliveryID),
    queryFn: ({ signal }) => deliveryAttempts(channel, deliveryID, signal),
    enabled: !!deliveryID,
    ...opts,
  })
}

// ---- invalidation ----

export const invalidateChannels = (qc: QueryClient) =>
  Promise.all([qc.invalidateQueries({ queryKey: notificationKeys.channels() }), qc.invalidateQueries({ queryKey: notificationKeys.all() })])
