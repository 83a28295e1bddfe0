// Schedules: when a job runs on its own.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { client } from '../client'
import type { Preview, ScheduleRow } from '../types'
import type { QueryOpts } from './options'

export const scheduleKeys = {
  all: () => ['schedules'],
  one: (id: string) => ['schedule', id],
  preview: (id: string) => ['preview', id],
}

// ---- fetchers ----

/** The schedules' first page (the server's default page size, as before). */
export const listSchedules = () => client.listSchedules().then((l) => l.items)
export const getSchedule = (id: string) => client.getSchedule(id)
/** Creates or replaces a schedule from its YAML document. */
export const saveSchedule = (yaml: string) => client.applySchedule(yaml)
export const deleteSchedule = (id: string) => client.deleteSchedule(id)
export const setScheduleEnabled = (id: string, on: boolean) => (on ? client.enableSchedule(id) : client.disableSchedule(id))
export const previewSchedule = (id: string, count: number) => client.previewSchedule(id, { count })

// ---- hooks ----

export function useSchedules(opts?: QueryOpts<ScheduleRow[]>) {
  return useQuery({ queryKey: scheduleKeys.all(), queryFn: listSchedules, ...opts })
}

/** The stored document of s (comments included, when the server kept it); s itself if it cannot be read. */
export function useScheduleDoc(s: ScheduleRow, opts?: QueryOpts<ScheduleRow>) {
  return useQuery({ queryKey: scheduleKeys.one(s.id), queryFn: () => getSchedule(s.id).catch(() => s), ...opts })
}

export function useSchedulePreview(id: string, count: number, opts?: QueryOpts<Preview>) {
  return useQuery({ queryKey: scheduleKeys.preview(id), queryFn: () => previewSchedule(id, count), ...opts })
}

// ---- invalidation ----

export const invalidateSchedules = (qc: QueryClient) => qc.invalidateQueries({ queryKey: scheduleKeys.all() })
